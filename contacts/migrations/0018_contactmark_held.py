"""The marks' claim asks, for each of the oldest pending marks, whether another claim
holds the same contact. Through the index on every mark of a contact that probe read
each of the contact's rows, pending and dead, ~60 heap pages per contact when ingest
marks a contact every few seconds (4,000 probes, 160,000 pages, seconds per claim).
A partial index over the claimed rows alone answers it from a few entries. Built
CONCURRENTLY: ingest writes marks all the time."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0017_wsid_uniques")]

    operations = [
        AddIndexConcurrently(
            model_name="contactmark",
            index=models.Index(
                condition=models.Q(claimed_at__isnull=False),
                fields=["contact"],
                name="contactmark_held",
            ),
        ),
    ]
