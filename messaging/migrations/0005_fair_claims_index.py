"""The outbox's claim index leads with the workspace: claims take one workspace at a
time (fair across tenants, and a query Citus can route to one shard). Built and
dropped CONCURRENTLY, so sending goes on while it migrates."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0004_media_file")]

    operations = [
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                fields=["workspace", "due_at", "id"],
                name="message_due_per_workspace",
                condition=Q(status__in=["scheduled", "sending"]),
            ),
        ),
        RemoveIndexConcurrently(model_name="message", name="message_due"),
    ]
