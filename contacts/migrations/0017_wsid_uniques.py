"""Unique constraints include the workspace (issue 20), so that Citus can enforce them
on a table distributed by workspace. Each new index is built CONCURRENTLY and attached
before the old constraint goes (config/online_migrations.py): writes go on meanwhile.
The workspace comes last in event summaries (the engine's (contact, name) lookups and
the upsert's ON CONFLICT keep the index) and after the token in exports (looked up by
token)."""

from django.db import migrations, models

from config.online_migrations import AddUniqueConcurrently, RemoveUniqueConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0016_wsid_row_error_workspace_not_null")]

    operations = [
        AddUniqueConcurrently(
            model_name="eventsummary",
            constraint=models.UniqueConstraint(
                fields=("contact", "name", "workspace"), name="event_summary_ws_unique"
            ),
        ),
        RemoveUniqueConcurrently(model_name="eventsummary", name="event_summary_unique"),
        AddUniqueConcurrently(
            model_name="contactexport",
            constraint=models.UniqueConstraint(
                fields=("token", "workspace"), name="contactexport_token_unique"
            ),
        ),
        migrations.AlterField(
            model_name="contactexport",
            name="token",
            field=models.CharField(max_length=64),
        ),
    ]
