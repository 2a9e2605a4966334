"""Message knows its origin one way: `origin_kind` + `origin_id` replace the
`broadcast` foreign key and `campaign_step_id` (a journey step id). Existing rows keep
their origin; the reverse migration restores the old columns from the new ones."""

from django.db import migrations, models
from django.db.models import Q

FORWARD = """
UPDATE campaigns_message SET origin_kind = 'broadcast', origin_id = broadcast_id
WHERE broadcast_id IS NOT NULL;
UPDATE campaigns_message SET origin_kind = 'journey_step', origin_id = campaign_step_id
WHERE campaign_step_id IS NOT NULL AND broadcast_id IS NULL;
"""

BACKWARD = """
UPDATE campaigns_message SET broadcast_id = origin_id
WHERE origin_kind = 'broadcast'
  AND EXISTS (SELECT 1 FROM campaigns_broadcast b WHERE b.id = origin_id);
UPDATE campaigns_message SET campaign_step_id = origin_id WHERE origin_kind = 'journey_step';
"""


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_send_time_optimisation")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="origin_kind",
            field=models.CharField(
                choices=[
                    ("direct", "Direct"),
                    ("broadcast", "Broadcast"),
                    ("journey_step", "Journey step"),
                ],
                default="direct",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="origin_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RemoveField(model_name="message", name="broadcast"),
        migrations.RemoveField(model_name="message", name="campaign_step_id"),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=Q(origin_kind="direct", origin_id__isnull=True)
                | (~Q(origin_kind="direct") & Q(origin_id__isnull=False)),
                name="message_origin_id_unless_direct",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=Q(origin_id__isnull=False),
                fields=["origin_kind", "origin_id"],
                name="message_origin",
            ),
        ),
    ]
