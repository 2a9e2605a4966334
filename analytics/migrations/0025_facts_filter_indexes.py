"""The facts' indexes a source or signup-month filter reads its contacts from alone
(index-only: the contact id included), built CONCURRENTLY so that the engine's writes
of the facts go on meanwhile (config/online_migrations.py)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [
        ("analytics", "0024_workspace_keys"),
        ("contacts", "0020_workspace_keys"),
        ("workspaces", "0006_wsid_invitation_token"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="customerfacts",
            name="facts_ws_cohort",
        ),
        AddIndexConcurrently(
            model_name="customerfacts",
            index=models.Index(
                fields=["workspace", "signup_month", "source"],
                include=("contact",),
                name="facts_ws_cohort",
            ),
        ),
        AddIndexConcurrently(
            model_name="customerfacts",
            index=models.Index(
                fields=["workspace", "source"], include=("contact",), name="facts_ws_source"
            ),
        ),
    ]
