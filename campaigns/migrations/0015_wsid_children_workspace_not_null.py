"""The workspace of broadcast variants, journey steps and journeys' segment members
NOT NULL, after taking the rows old code wrote since 0014 (config/online_migrations.py:
a validated CHECK spares the long scan)."""

from django.db import migrations

from config.online_migrations import filled_from_parent, workspace_made_not_null

CHILDREN = [
    ("broadcastvariant", "campaigns_broadcastvariant", "campaigns_broadcast", "broadcast_id"),
    ("journeystep", "campaigns_journeystep", "campaigns_journey", "journey_id"),
    ("journeysegmentmember", "campaigns_journeysegmentmember", "campaigns_journey", "journey_id"),
]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("campaigns", "0014_wsid_children_workspace")]

    operations = [
        operation
        for model_name, table, parent_table, parent_column in CHILDREN
        for operation in workspace_made_not_null(
            model_name=model_name,
            table=table,
            fill=filled_from_parent(table, parent_table, parent_column),
            foreign_key=f"{table}_workspace_id_fk",
        )
    ]
