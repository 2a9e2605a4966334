"""Journey enrolments are claimed one workspace at a time (fair across tenants, and
a claim Citus can route to one shard): their claim index leads with the workspace.
Built and dropped CONCURRENTLY, so journeys keep running while it migrates."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("campaigns", "0013_catf_browse_abandoned")]

    operations = [
        AddIndexConcurrently(
            model_name="journeyenrolment",
            index=models.Index(
                fields=["workspace", "due_at", "id"],
                name="journey_enrolment_due_per_ws",
                condition=Q(status__in=["active", "holdout"]),
            ),
        ),
        RemoveIndexConcurrently(model_name="journeyenrolment", name="journey_enrolment_due"),
    ]
