"""The messaging models (templates, the outbox, tracking, webhook events, messaging
settings, sending policies) moved to the `messaging` app. Only Django's idea of where
they live changes: the tables keep their names (`campaigns_*`), so nothing in the
database moves and raw SQL stays valid."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0008_message_origin"),
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="message",
                    name="contact",
                ),
                migrations.RemoveField(
                    model_name="message",
                    name="template",
                ),
                migrations.RemoveField(
                    model_name="message",
                    name="workspace",
                ),
                migrations.RemoveField(
                    model_name="sandboxdelivery",
                    name="message",
                ),
                migrations.RemoveField(
                    model_name="trackingevent",
                    name="message",
                ),
                migrations.RemoveField(
                    model_name="messagingsettings",
                    name="workspace",
                ),
                migrations.RemoveField(
                    model_name="sandboxdelivery",
                    name="workspace",
                ),
                migrations.RemoveField(
                    model_name="sendingpolicy",
                    name="workspace",
                ),
                migrations.RemoveField(
                    model_name="template",
                    name="workspace",
                ),
                migrations.AlterField(
                    model_name="broadcastvariant",
                    name="template",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.template",
                    ),
                ),
                migrations.AlterField(
                    model_name="broadcast",
                    name="template",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="messaging.template",
                    ),
                ),
                migrations.RemoveField(
                    model_name="trackingevent",
                    name="workspace",
                ),
                migrations.RemoveField(
                    model_name="webhookevent",
                    name="workspace",
                ),
                migrations.DeleteModel(
                    name="Message",
                ),
                migrations.DeleteModel(
                    name="MessagingSettings",
                ),
                migrations.DeleteModel(
                    name="SandboxDelivery",
                ),
                migrations.DeleteModel(
                    name="SendingPolicy",
                ),
                migrations.DeleteModel(
                    name="Template",
                ),
                migrations.DeleteModel(
                    name="TrackingEvent",
                ),
                migrations.DeleteModel(
                    name="WebhookEvent",
                ),
            ],
            database_operations=[],
        ),
    ]
