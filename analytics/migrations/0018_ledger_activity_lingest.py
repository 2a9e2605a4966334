"""The rollups' previous-active-day lookup reads loyalty's contact-keyed ledger index,
which now carries occurred_at and kind (loyalty 0008): the partial index kept for it
cost every ledger insert a second random index page, so it goes."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0017_merge_survey_segments"),
        ("loyalty", "0008_ledger_index_lingest"),
    ]

    operations = [
        migrations.RunSQL(
            "DROP INDEX CONCURRENTLY IF EXISTS analytics_ledger_activity",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_ledger_activity "
            "ON loyalty_ledgerentry (workspace_id, contact_id, occurred_at) "
            "WHERE kind IN ('earn', 'redeem')",
        ),
    ]
