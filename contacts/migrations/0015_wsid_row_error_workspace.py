"""Import row errors carry their job's workspace (issue 20): added nullable and filled
from the job in id-range batches, without a long lock (config/online_migrations.py).
The next migration makes it NOT NULL; deploy the code between the two for no downtime."""

from django.db import migrations

from config.online_migrations import workspace_column_added


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0014_segment_members"),
        ("workspaces", "0005_membership_date_locale"),
    ]

    operations = workspace_column_added(
        model_name="importrowerror",
        table="contacts_importrowerror",
        parent_table="contacts_importjob",
        parent_column="job_id",
    )
