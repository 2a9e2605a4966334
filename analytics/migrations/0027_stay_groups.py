"""StayGroupCount: the stay counts by the contacts' source and signup month
(analytics/rollups/stay_groups.py), counted from the stays and the facts as they are;
then the tenant keys of the new table (config/tenant_keys.py). Run it before workers
with this code start (as every migration here): stays that workers of the code before
write meanwhile are not in it until the drift check's repair or the nightly rebuild
counts them."""

import config.fields
import django.db.models.deletion
from django.db import migrations, models

from config.tenant_keys import TenantKeys

_FROM = """
FROM analytics_stay s JOIN workspaces_workspace w ON w.id = s.workspace_id
LEFT JOIN analytics_customerfacts g ON g.contact_id = s.contact_id"""
FILL = f"""
INSERT INTO analytics_staygroupcount
    (kind, workspace_id, stage_id, open, next_stage_id, day, days, until, source,
     signup_month, stays)
SELECT 'length', s.workspace_id, s.stage_id, s.left_at IS NULL, NULL::bigint,
       (coalesce(s.left_at, s.entered_at) AT TIME ZONE w.time_zone)::date,
       coalesce(floor(extract(epoch FROM s.left_at - s.entered_at) / 86400)::int, 0),
       NULL::date, coalesce(g.source, ''), g.signup_month, count(*)
{_FROM}
GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
UNION ALL
SELECT 'conversion', s.workspace_id, s.stage_id, NULL::bool, s.next_stage_id,
       (s.entered_at AT TIME ZONE w.time_zone)::date,
       floor(extract(epoch FROM s.converted_at - s.entered_at) / 86400)::int,
       NULL::date, coalesce(g.source, ''), g.signup_month, count(*)
{_FROM}
WHERE s.first_entry
GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
UNION ALL
SELECT 'cover', s.workspace_id, s.stage_id, NULL::bool, NULL::bigint, s.cover_from, NULL::int,
       (s.left_at AT TIME ZONE w.time_zone)::date, coalesce(g.source, ''), g.signup_month,
       count(*)
{_FROM}
WHERE s.cover_from IS NOT NULL
  AND (s.left_at IS NULL OR s.cover_from <= (s.left_at AT TIME ZONE w.time_zone)::date)
GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0026_flow_groups"),
        ("lifecycle", "0011_workspace_keys"),
        ("workspaces", "0006_wsid_invitation_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="StayGroupCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=10)),
                ("source", models.CharField(blank=True, default="", max_length=200)),
                ("signup_month", models.DateField(blank=True, null=True)),
                ("open", models.BooleanField(blank=True, null=True)),
                ("next_stage_id", models.BigIntegerField(blank=True, null=True)),
                ("day", models.DateField()),
                ("days", models.IntegerField(blank=True, null=True)),
                ("until", models.DateField(blank=True, null=True)),
                ("stays", models.IntegerField(default=0)),
                (
                    "stage",
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
                "indexes": [
                    models.Index(
                        fields=["workspace", "kind", "signup_month", "stage"],
                        name="stay_group_month",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "workspace",
                            "kind",
                            "source",
                            "signup_month",
                            "stage",
                            "open",
                            "next_stage_id",
                            "day",
                            "days",
                            "until",
                        ),
                        name="stay_group_count_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        TenantKeys(),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
