"""Urgent marks: the engine claims the changes that can move a contact's stage now (or
that a live journey waits for) before the rest, so under sustained ingest a first
purchase is not queued behind every page view (contacts/services/marks.py). The
column has a database default (existing and concurrently written marks are urgent,
the old first-come order); the index is built CONCURRENTLY: ingest writes marks all
the time."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0020_workspace_keys")]

    operations = [
        migrations.AddField(
            model_name="contactmark",
            name="urgent",
            field=models.BooleanField(db_default=True, default=True),
        ),
        AddIndexConcurrently(
            model_name="contactmark",
            index=models.Index(
                condition=models.Q(("claimed_at__isnull", True), ("urgent", True)),
                fields=["workspace", "id"],
                name="contactmark_urgent",
            ),
        ),
    ]
