"""Broadcast variants, journey steps and journeys' segment members carry their
parent's workspace (issue 20): added nullable and filled from the broadcast or the
journey in id-range batches, without a long lock (config/online_migrations.py). The
next migration makes it NOT NULL; deploy the code between the two for no downtime."""

from django.db import migrations

from config.online_migrations import workspace_column_added


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("campaigns", "0013_catf_browse_abandoned"),
        ("workspaces", "0005_membership_date_locale"),
    ]

    operations = [
        *workspace_column_added(
            model_name="broadcastvariant",
            table="campaigns_broadcastvariant",
            parent_table="campaigns_broadcast",
            parent_column="broadcast_id",
        ),
        *workspace_column_added(
            model_name="journeystep",
            table="campaigns_journeystep",
            parent_table="campaigns_journey",
            parent_column="journey_id",
        ),
        *workspace_column_added(
            model_name="journeysegmentmember",
            table="campaigns_journeysegmentmember",
            parent_table="campaigns_journey",
            parent_column="journey_id",
        ),
    ]
