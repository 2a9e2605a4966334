"""StageFlowGroupDay: the moves per day by the moving contacts' source and signup month
(analytics/rollups/flow_groups.py), counted from the dispatched moves and the facts as
they are; then the tenant keys of the new table (config/tenant_keys.py). Run it before
workers with this code start (as every migration here): moves that workers of the
code before dispatch meanwhile are not in it until the drift check's repair or the
nightly rebuild counts them."""

import config.fields
import django.db.models.deletion
from django.db import migrations, models

from config.tenant_keys import TenantKeys

FILL = """
INSERT INTO analytics_stageflowgroupday
    (workspace_id, day, from_stage_id, to_stage_id, source, signup_month, moves)
SELECT t.workspace_id, (t.at AT TIME ZONE w.time_zone)::date, t.from_stage_id, t.to_stage_id,
       coalesce(f.source, ''), f.signup_month, count(*)
FROM lifecycle_stagetransition t JOIN workspaces_workspace w ON w.id = t.workspace_id
LEFT JOIN analytics_customerfacts f ON f.contact_id = t.contact_id
WHERE t.notified_at IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0025_facts_filter_indexes"),
        ("lifecycle", "0011_workspace_keys"),
        ("workspaces", "0006_wsid_invitation_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="StageFlowGroupDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("source", models.CharField(blank=True, default="", max_length=200)),
                ("signup_month", models.DateField(blank=True, null=True)),
                ("moves", models.IntegerField(default=0)),
                (
                    "from_stage",
                    config.fields.TenantForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="lifecycle.stage",
                    ),
                ),
                (
                    "to_stage",
                    config.fields.TenantForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="lifecycle.stage",
                    ),
                ),
                (
                    "workspace",
                    config.fields.WorkspaceKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="workspaces.workspace",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "workspace",
                            "day",
                            "from_stage",
                            "to_stage",
                            "source",
                            "signup_month",
                        ),
                        name="stage_flow_group_day_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        TenantKeys(),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
