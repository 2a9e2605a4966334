"""The messaging models, moved here from `campaigns` with their tables (state only:
the tables keep their `campaigns_*` names). Content types and permissions follow."""

import datetime
import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models


MOVED = [
    "template",
    "message",
    "sandboxdelivery",
    "trackingevent",
    "webhookevent",
    "messagingsettings",
    "sendingpolicy",
]


def content_types_follow(apps, schema_editor):
    """Admin log entries and permissions point at content types: move them with the
    models (on a new database there are none yet)."""
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="campaigns", model__in=MOVED).update(
        app_label="messaging"
    )


def content_types_return(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="messaging", model__in=MOVED).update(
        app_label="campaigns"
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('campaigns', '0008_message_origin'),
        ('contacts', '0006_contactmark_appended'),
        ('workspaces', '0002_workspace_purchase_event_names'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MessagingSettings',
                    fields=[
                        ('workspace', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='workspaces.workspace')),
                        ('from_name', models.CharField(blank=True, default='', max_length=200)),
                        ('from_email', models.CharField(blank=True, default='', max_length=254)),
                        ('sms_from_number', models.CharField(blank=True, default='', help_text='E.164', max_length=16)),
                        ('sms_help_text', models.CharField(blank=True, default='Reply STOP to unsubscribe. Msg&data rates may apply.', max_length=320)),
                        ('rate_limit_per_minute', models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        'verbose_name_plural': 'messaging settings',
                        'db_table': 'campaigns_messagingsettings',
                        'constraints': [models.UniqueConstraint(condition=models.Q(('sms_from_number', ''), _negated=True), fields=('sms_from_number',), name='messaging_sms_number_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='Template',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200)),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS')], max_length=8)),
                        ('subject', models.CharField(blank=True, default='', max_length=500)),
                        ('preheader', models.CharField(blank=True, default='', max_length=500)),
                        ('from_name', models.CharField(blank=True, default='', max_length=200)),
                        ('from_email', models.CharField(blank=True, default='', max_length=254)),
                        ('reply_to', models.CharField(blank=True, default='', max_length=254)),
                        ('body', models.TextField()),
                        ('text_body', models.TextField(blank=True, default='')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'campaigns_template',
                    },
                ),
                migrations.CreateModel(
                    name='Message',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS')], max_length=8)),
                        ('origin_kind', models.CharField(choices=[('direct', 'Direct'), ('broadcast', 'Broadcast'), ('journey_step', 'Journey step')], default='direct', max_length=16)),
                        ('origin_id', models.BigIntegerField(blank=True, null=True)),
                        ('variant_id', models.BigIntegerField(blank=True, null=True)),
                        ('transactional', models.BooleanField(default=False)),
                        ('idempotency_key', models.CharField(max_length=200)),
                        ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('is_test', models.BooleanField(default=False)),
                        ('status', models.CharField(choices=[('scheduled', 'Scheduled'), ('sending', 'Sending'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('bounced', 'Bounced'), ('failed', 'Failed'), ('suppressed', 'Suppressed'), ('held', 'Held')], default='scheduled', max_length=16)),
                        ('status_reason', models.CharField(blank=True, default='', max_length=200)),
                        ('due_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('deferrals', models.PositiveIntegerField(default=0)),
                        ('error', models.TextField(blank=True, default='')),
                        ('provider', models.CharField(blank=True, default='', max_length=32)),
                        ('provider_message_id', models.CharField(blank=True, default='', max_length=200)),
                        ('to_address', models.CharField(blank=True, default='', max_length=254)),
                        ('subject', models.CharField(blank=True, default='', max_length=500)),
                        ('body_html', models.TextField(blank=True, default='')),
                        ('body_text', models.TextField(blank=True, default='')),
                        ('sms_segments', models.PositiveSmallIntegerField(default=0)),
                        ('links', models.JSONField(blank=True, default=list)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('bounced_at', models.DateTimeField(blank=True, null=True)),
                        ('opened_at', models.DateTimeField(blank=True, null=True)),
                        ('clicked_at', models.DateTimeField(blank=True, null=True)),
                        ('unsubscribed_at', models.DateTimeField(blank=True, null=True)),
                        ('complained_at', models.DateTimeField(blank=True, null=True)),
                        ('contact', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contacts.contact')),
                        ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                        ('template', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='messaging.template')),
                    ],
                    options={
                        'db_table': 'campaigns_message',
                    },
                ),
                migrations.CreateModel(
                    name='TrackingEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('open', 'Open'), ('click', 'Click')], max_length=8)),
                        ('url', models.TextField(blank=True, default='')),
                        ('user_agent', models.CharField(blank=True, default='', max_length=500)),
                        ('is_bot', models.BooleanField(default=False)),
                        ('source', models.CharField(default='pixel', help_text='pixel, link or webhook', max_length=16)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='messaging.message')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'campaigns_trackingevent',
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('provider', models.CharField(max_length=32)),
                        ('event_id', models.CharField(max_length=200)),
                        ('kind', models.CharField(max_length=32)),
                        ('payload', models.JSONField(default=dict)),
                        ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('workspace', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'campaigns_webhookevent',
                    },
                ),
                migrations.CreateModel(
                    name='SandboxDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('message_uuid', models.UUIDField()),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS')], max_length=8)),
                        ('to_address', models.CharField(max_length=254)),
                        ('from_address', models.CharField(blank=True, default='', max_length=254)),
                        ('subject', models.CharField(blank=True, default='', max_length=500)),
                        ('body_html', models.TextField(blank=True, default='')),
                        ('body_text', models.TextField(blank=True, default='')),
                        ('headers', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('message', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='messaging.message')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'campaigns_sandboxdelivery',
                        'indexes': [models.Index(fields=['workspace', '-id'], name='sandbox_ws_id')],
                        'constraints': [models.UniqueConstraint(fields=('message_uuid',), name='sandbox_delivery_once')],
                    },
                ),
                migrations.CreateModel(
                    name='SendingPolicy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS')], max_length=8)),
                        ('cap_messages', models.PositiveIntegerField(blank=True, help_text='At most this many marketing messages …', null=True)),
                        ('cap_period_hours', models.PositiveIntegerField(default=168, help_text='… in this many hours')),
                        ('cap_policy', models.CharField(choices=[('defer', 'Defer to the next allowed time'), ('skip', 'Skip (suppress with the reason)')], default='defer', max_length=8)),
                        ('quiet_hours_enabled', models.BooleanField(default=False)),
                        ('quiet_start', models.TimeField(default=datetime.time(21, 0))),
                        ('quiet_end', models.TimeField(default=datetime.time(8, 0))),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='workspaces.workspace')),
                    ],
                    options={
                        'verbose_name_plural': 'sending policies',
                        'db_table': 'campaigns_sendingpolicy',
                        'constraints': [models.UniqueConstraint(fields=('workspace', 'channel'), name='sending_policy_unique')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='template',
                    constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='template_name_unique'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('status__in', ['scheduled', 'sending'])), fields=['due_at', 'id'], name='message_due'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('status', 'sending')), fields=['lease_until'], name='message_leased'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['workspace', '-id'], name='message_ws_id'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['contact', '-id'], name='message_contact'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('origin_id__isnull', False)), fields=['origin_kind', 'origin_id'], name='message_origin'),
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(condition=models.Q(('provider_message_id', ''), _negated=True), fields=['provider_message_id'], name='message_provider_id'),
                ),
                migrations.AddConstraint(
                    model_name='message',
                    constraint=models.UniqueConstraint(fields=('workspace', 'idempotency_key'), name='message_idempotency_unique'),
                ),
                migrations.AddConstraint(
                    model_name='message',
                    constraint=models.CheckConstraint(condition=models.Q(('contact__isnull', False), ('is_test', True), _connector='OR'), name='message_contact_unless_test'),
                ),
                migrations.AddConstraint(
                    model_name='message',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('origin_id__isnull', True), ('origin_kind', 'direct')), models.Q(models.Q(('origin_kind', 'direct'), _negated=True), ('origin_id__isnull', False)), _connector='OR'), name='message_origin_id_unless_direct'),
                ),
                migrations.AddConstraint(
                    model_name='webhookevent',
                    constraint=models.UniqueConstraint(fields=('provider', 'event_id'), name='webhook_event_once'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
