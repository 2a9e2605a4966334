"""Unique constraints include the workspace (issue 20), so that Citus can enforce them
on tables distributed by workspace. Each new index is built CONCURRENTLY and attached
before the old constraint goes (config/online_migrations.py): the rollups go on
writing meanwhile. The workspace comes last: the rollups' lookups by contact keep the
index, and their ON CONFLICT targets name the new columns (rollups/periods.py,
rollups/customers.py)."""

from django.db import migrations, models

from config.online_migrations import AddUniqueConcurrently, RemoveUniqueConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("analytics", "0017_merge_survey_segments")]

    operations = [
        AddUniqueConcurrently(
            model_name="stay",
            constraint=models.UniqueConstraint(
                fields=("transition_id", "workspace"), name="stay_transition_unique"
            ),
        ),
        migrations.AlterField(
            model_name="stay",
            name="transition_id",
            field=models.BigIntegerField(help_text="the move that began it"),
        ),
        AddUniqueConcurrently(
            model_name="contactmonth",
            constraint=models.UniqueConstraint(
                fields=("contact", "month", "workspace"), name="contact_month_ws_unique"
            ),
        ),
        RemoveUniqueConcurrently(model_name="contactmonth", name="contact_month_unique"),
        AddUniqueConcurrently(
            model_name="purchaseday",
            constraint=models.UniqueConstraint(
                fields=("contact_id", "day", "workspace"), name="purchase_day_ws_unique"
            ),
        ),
        RemoveUniqueConcurrently(model_name="purchaseday", name="purchase_day_unique"),
    ]
