from django.db import migrations, models

# Fill the new column from the events (each workspace's local days), so the figures
# are right at once rather than after the nightly rebuild.
_BACKFILL = """
UPDATE analytics_contactmonth m SET active_days = d.bits
FROM (
    SELECT e.contact_id,
           date_trunc('month', e.occurred_at AT TIME ZONE w.time_zone)::date AS month,
           bit_or(1 << (extract(day FROM e.occurred_at AT TIME ZONE w.time_zone)::int - 1))
               AS bits
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    GROUP BY 1, 2
) d
WHERE m.contact_id = d.contact_id AND m.month = d.month
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_drift_check"),
        ("contacts", "0009_contactmark_since"),
    ]

    operations = [
        migrations.AddField(
            model_name="contactmonth",
            name="active_days",
            field=models.IntegerField(default=0, help_text="bit d-1: any event on day d"),
        ),
        migrations.RunSQL(_BACKFILL, migrations.RunSQL.noop),
    ]
