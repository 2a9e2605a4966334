"""Earning a batch of purchases was slowed most by the ledger's indexes: each entry went
into two indexes keyed by contact (the history's and the rollups' activity index,
analytics 0018 drops the latter), each insert a random page of a large index. One
contact-keyed index now carries what both served (occurred_at, kind, points as
included columns). Built before the old one is dropped, both CONCURRENTLY, so writers
go on while it migrates.

The balance and tier rows are rewritten on every earning: room in each page lets
PostgreSQL update them in place (HOT) without new entries in their indexes. The
setting applies to pages written from now on (a VACUUM FULL applies it to old ones)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("loyalty", "0007_lfeat_tier_basis_window")]

    operations = [
        AddIndexConcurrently(
            model_name="ledgerentry",
            index=models.Index(
                fields=["workspace", "contact", "-id"],
                include=("occurred_at", "kind", "points"),
                name="ledger_contact_entries",
            ),
        ),
        RemoveIndexConcurrently(model_name="ledgerentry", name="ledger_contact_history"),
        migrations.RunSQL(
            "ALTER TABLE loyalty_pointsbalance SET (fillfactor = 80)",
            "ALTER TABLE loyalty_pointsbalance RESET (fillfactor)",
        ),
        migrations.RunSQL(
            "ALTER TABLE loyalty_contacttier SET (fillfactor = 80)",
            "ALTER TABLE loyalty_contacttier RESET (fillfactor)",
        ),
    ]
