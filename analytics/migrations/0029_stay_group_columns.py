"""Stay.source and Stay.signup_month: each stay carries its contact's group in the
facts (analytics/rollups/stay_groups.py), filled from the facts as they are; the
partial indexes a percentile's bucket is read from carry it too, so a source or
signup-month filter reads that bucket from the index alone
(analytics/figures/stage_lengths.py). Run it before workers with this code start:
stays written meanwhile by workers of the code before carry no group until the drift
check's repair or the nightly rebuild writes them again."""

from django.db import migrations, models

FILL = """
UPDATE analytics_stay s SET source = coalesce(f.source, ''), signup_month = f.signup_month
FROM analytics_customerfacts f
WHERE f.contact_id = s.contact_id AND (s.source, s.signup_month) IS DISTINCT FROM
      (coalesce(f.source, ''), f.signup_month)
"""
_ENDED = "floor(extract(epoch FROM left_at - entered_at) / 86400)::int"
_CONVERTED = "floor(extract(epoch FROM converted_at - entered_at) / 86400)::int"
INDEXES = [
    (
        "stay_ended_length",
        f"(stage_id, ({_ENDED}), left_at) INCLUDE (entered_at, source, signup_month) "
        "WHERE left_at IS NOT NULL",
        f"(stage_id, ({_ENDED}), left_at) INCLUDE (entered_at) WHERE left_at IS NOT NULL",
    ),
    (
        "stay_open_entered",
        "(stage_id, entered_at) INCLUDE (source, signup_month) WHERE left_at IS NULL",
        "(stage_id, entered_at) WHERE left_at IS NULL",
    ),
    (
        "stay_converted_length",
        f"(stage_id, ({_CONVERTED}), entered_at) INCLUDE (converted_at, source, signup_month) "
        "WHERE first_entry AND converted_at IS NOT NULL",
        f"(stage_id, ({_CONVERTED}), entered_at) WHERE first_entry AND converted_at IS NOT NULL",
    ),
]


def _index(name: str, definition: str) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {name}",
        f"CREATE INDEX {name} ON analytics_stay {definition}",
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0028_period_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="stay",
            name="signup_month",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="stay",
            name="source",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        *(migrations.RunSQL(_index(name, new), _index(name, old)) for name, new, old in INDEXES),
    ]
