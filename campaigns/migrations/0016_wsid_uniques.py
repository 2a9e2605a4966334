"""Unique constraints include the workspace (issue 20), so that Citus can enforce them
on tables distributed by workspace. Each new index is built CONCURRENTLY (enrolments
and segment members are big) and attached before the old constraint goes
(config/online_migrations.py). The workspace comes last: every lookup by journey or
broadcast keeps the index, and a conflict target names the same columns in any order."""

from django.db import migrations, models
from django.db.models import Q

from config.online_migrations import AddUniqueConcurrently, RemoveUniqueConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("campaigns", "0015_wsid_children_workspace_not_null")]

    operations = [
        AddUniqueConcurrently(
            model_name="broadcastvariant",
            constraint=models.UniqueConstraint(
                fields=("broadcast", "label", "workspace"), name="variant_label_ws_unique"
            ),
        ),
        RemoveUniqueConcurrently(model_name="broadcastvariant", name="variant_label_unique"),
        AddUniqueConcurrently(
            model_name="broadcastvariant",
            constraint=models.UniqueConstraint(
                fields=("broadcast", "workspace"),
                condition=Q(is_default=True),
                name="variant_one_default_ws",
            ),
        ),
        RemoveUniqueConcurrently(model_name="broadcastvariant", name="variant_one_default"),
        AddUniqueConcurrently(
            model_name="journeystep",
            constraint=models.UniqueConstraint(
                fields=("journey", "key", "workspace"),
                condition=Q(removed_at__isnull=True),
                name="journey_step_key_ws_unique",
            ),
        ),
        RemoveUniqueConcurrently(model_name="journeystep", name="journey_step_key_unique"),
        AddUniqueConcurrently(
            model_name="journeyenrolment",
            constraint=models.UniqueConstraint(
                fields=("journey", "trigger_key", "workspace"),
                name="journey_enrolment_trigger_ws_unique",
            ),
        ),
        RemoveUniqueConcurrently(
            model_name="journeyenrolment", name="journey_enrolment_trigger_unique"
        ),
        AddUniqueConcurrently(
            model_name="journeyenrolment",
            constraint=models.UniqueConstraint(
                fields=("journey", "contact", "workspace"),
                condition=Q(status__in=["active", "holdout"]),
                name="journey_enrolment_one_active_ws",
            ),
        ),
        RemoveUniqueConcurrently(model_name="journeyenrolment", name="journey_enrolment_one_active"),
        AddUniqueConcurrently(
            model_name="journeysegmentmember",
            constraint=models.UniqueConstraint(
                fields=("journey", "contact", "workspace"), name="journey_member_ws_unique"
            ),
        ),
        RemoveUniqueConcurrently(model_name="journeysegmentmember", name="journey_member_unique"),
    ]
