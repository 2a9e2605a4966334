"""Unique constraints include the workspace (issue 20), so that Citus can enforce them
on tables distributed by workspace. Each new index is built CONCURRENTLY and attached
before the old constraint goes (config/online_migrations.py): sending and tracking go
on meanwhile. The workspace comes after the uuid or token, which tracking links,
webhooks and media addresses look up alone.

A webhook event is recorded only once its message or number is known (since the
webhook services were written), so a row without a workspace names nothing that can
be applied: those are deleted, then the workspace is NOT NULL."""

import uuid

from django.db import migrations, models

from config.online_migrations import (
    AddUniqueConcurrently,
    RemoveUniqueConcurrently,
    rows_without_workspace_deleted,
    workspace_made_not_null,
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0005_fair_claims_index")]

    operations = [
        AddUniqueConcurrently(
            model_name="message",
            constraint=models.UniqueConstraint(
                fields=("uuid", "workspace"), name="message_uuid_unique"
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        AddUniqueConcurrently(
            model_name="sandboxdelivery",
            constraint=models.UniqueConstraint(
                fields=("message_uuid", "workspace"), name="sandbox_delivery_once_per_workspace"
            ),
        ),
        RemoveUniqueConcurrently(model_name="sandboxdelivery", name="sandbox_delivery_once"),
        *workspace_made_not_null(
            model_name="webhookevent",
            table="campaigns_webhookevent",
            fill=rows_without_workspace_deleted("campaigns_webhookevent"),
            db_index=True,
        ),
        AddUniqueConcurrently(
            model_name="webhookevent",
            constraint=models.UniqueConstraint(
                fields=("provider", "event_id", "workspace"),
                name="webhook_event_once_per_workspace",
            ),
        ),
        RemoveUniqueConcurrently(model_name="webhookevent", name="webhook_event_once"),
        AddUniqueConcurrently(
            model_name="mediafile",
            constraint=models.UniqueConstraint(
                fields=("token", "workspace"), name="mediafile_token_unique"
            ),
        ),
        migrations.AlterField(
            model_name="mediafile",
            name="token",
            field=models.CharField(max_length=64),
        ),
    ]
