"""Import row errors' workspace NOT NULL, after taking the rows old code wrote since
0015 (config/online_migrations.py: a validated CHECK spares the long scan)."""

from django.db import migrations

from config.online_migrations import filled_from_parent, workspace_made_not_null


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0015_wsid_row_error_workspace")]

    operations = workspace_made_not_null(
        model_name="importrowerror",
        table="contacts_importrowerror",
        fill=filled_from_parent("contacts_importrowerror", "contacts_importjob", "job_id"),
        foreign_key="contacts_importrowerror_workspace_id_fk",
    )
