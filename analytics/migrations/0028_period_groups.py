"""OrderGroupDay and ActiveGroupDay: the order and active-day sums by the contacts'
source and signup month (analytics/rollups/period_groups.py), counted from the
purchase days, the contact months and the facts as they are; then the tenant keys of
the new tables (config/tenant_keys.py). Run it before workers with this code start
(as every migration here): what workers of the code before refresh meanwhile is not
in them until the drift check's repair or the nightly rebuild counts it."""

import django.db.models.deletion
from django.db import migrations, models

from config.tenant_keys import TenantKeys

ORDERS = """
INSERT INTO analytics_ordergroupday (workspace_id, day, previous_day, previous2_day, source,
                                     signup_month, orders, purchases, revenue)
SELECT p.workspace_id, p.day, p.previous_day, p.previous2_day, coalesce(g.source, ''),
       g.signup_month, count(*), sum(p.purchases), sum(p.revenue)
FROM analytics_purchaseday p LEFT JOIN analytics_customerfacts g ON g.contact_id = p.contact_id
GROUP BY 1, 2, 3, 4, 5, 6
"""
ACTIVE = """
INSERT INTO analytics_activegroupday (workspace_id, source, signup_month, day, previous_day,
                                      contacts)
SELECT d.workspace_id, coalesce(g.source, ''), g.signup_month, d.day, d.previous, count(*)
FROM (
    SELECT m.contact_id, m.workspace_id, m.month + (i - 1) AS day,
           lag(m.month + (i - 1)) OVER (PARTITION BY m.contact_id ORDER BY m.month + (i - 1))
               AS previous
    FROM analytics_contactmonth m CROSS JOIN generate_series(1, 31) AS i
    WHERE m.active_days & (1 << (i - 1)) <> 0
) d LEFT JOIN analytics_customerfacts g ON g.contact_id = d.contact_id
GROUP BY 1, 2, 3, 4, 5
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0027_stay_groups"),
        ("workspaces", "0006_wsid_invitation_token"),
    ]

    operations = [
        migrations.CreateModel(
            name="ActiveGroupDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(blank=True, default="", max_length=200)),
                ("signup_month", models.DateField(blank=True, null=True)),
                ("day", models.DateField()),
                ("previous_day", models.DateField(blank=True, null=True)),
                ("contacts", models.IntegerField(default=0)),
                (
                    "workspace",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="workspaces.workspace",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["workspace", "signup_month", "day"], name="active_group_month"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace", "source", "signup_month", "day", "previous_day"),
                        name="active_group_day_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OrderGroupDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source", models.CharField(blank=True, default="", max_length=200)),
                ("signup_month", models.DateField(blank=True, null=True)),
                ("day", models.DateField()),
                ("previous_day", models.DateField(blank=True, null=True)),
                ("previous2_day", models.DateField(blank=True, null=True)),
                ("orders", models.IntegerField(default=0)),
                ("purchases", models.IntegerField(default=0)),
                ("revenue", models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                (
                    "workspace",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="workspaces.workspace",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["workspace", "signup_month", "day"], name="order_group_month"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "workspace",
                            "source",
                            "signup_month",
                            "day",
                            "previous_day",
                            "previous2_day",
                        ),
                        name="order_group_day_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        TenantKeys(),
        migrations.RunSQL(ORDERS, migrations.RunSQL.noop),
        migrations.RunSQL(ACTIVE, migrations.RunSQL.noop),
    ]
