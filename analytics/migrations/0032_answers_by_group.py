"""ContactAnswerDay and AnswerGroupDay: the counted survey answers per contact, and
summed by the answering contacts' source and signup month
(analytics/rollups/answer_groups.py), counted from the answers and the facts as they
are; then the tenant keys of the new tables (config/tenant_keys.py). Run it before
workers with this code start: an answer taken in by the code before meanwhile is not
in them until the drift check's repair or the nightly rebuild counts it."""

import django.db.models.deletion
from django.db import migrations, models

from config.tenant_keys import TenantKeys

CONTACTS = """
INSERT INTO analytics_contactanswerday (workspace_id, contact_id, survey_id, day, score, answers)
SELECT r.workspace_id, r.contact_id, r.survey_id,
       (r.answered_at AT TIME ZONE w.time_zone)::date, r.score, count(*)
FROM surveys_surveyresponse r JOIN workspaces_workspace w ON w.id = r.workspace_id
WHERE r.contact_id IS NOT NULL AND NOT r.is_bot
GROUP BY 1, 2, 3, 4, 5
"""
GROUPS = """
INSERT INTO analytics_answergroupday (workspace_id, survey_id, source, signup_month, day, score,
                                      answers)
SELECT a.workspace_id, a.survey_id, coalesce(g.source, ''), g.signup_month, a.day, a.score,
       sum(a.answers)
FROM analytics_contactanswerday a
LEFT JOIN analytics_customerfacts g ON g.contact_id = a.contact_id
GROUP BY 1, 2, 3, 4, 5, 6
"""


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0031_filter_indexes"),
        ("workspaces", "0006_wsid_invitation_token"),
        ("surveys", "0006_answered_index_covers_the_cards"),
    ]

    operations = [
        migrations.CreateModel(
            name="AnswerGroupDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("survey_id", models.BigIntegerField()),
                ("source", models.CharField(blank=True, default="", max_length=200)),
                ("signup_month", models.DateField(blank=True, null=True)),
                ("day", models.DateField()),
                ("score", models.SmallIntegerField()),
                ("answers", models.IntegerField(default=0)),
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
                        fields=["workspace", "survey_id", "signup_month", "day"],
                        include=("score", "answers"),
                        name="answer_group_month_day",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace", "survey_id", "source", "signup_month", "day", "score"),
                        name="answer_group_day_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ContactAnswerDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("contact_id", models.BigIntegerField()),
                ("survey_id", models.BigIntegerField()),
                ("day", models.DateField()),
                ("score", models.SmallIntegerField()),
                ("answers", models.IntegerField(default=0)),
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
                "constraints": [
                    models.UniqueConstraint(
                        fields=("contact_id", "survey_id", "day", "score", "workspace"),
                        name="contact_answer_day_unique",
                    )
                ],
            },
        ),
        TenantKeys(),
        migrations.RunSQL(CONTACTS, migrations.RunSQL.noop),
        migrations.RunSQL(GROUPS, migrations.RunSQL.noop),
    ]
