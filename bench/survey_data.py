"""Survey answers for the benchmarks, built in bulk (COPY): an NPS and a CSAT survey
answered ANSWERS times over the past year by the workspace's contacts, in their stages,
by email, SMS and link, with a comment on about one answer in six and a few scanner
hits (counted nowhere)."""

from __future__ import annotations

import datetime as dt
import os
import random
from typing import Any

ANSWERS = int(os.environ.get("ANSWERS", "1000000"))
COMMENTS = ["Great beans", "Late delivery", "Too pricey", "Friendly support", ""]
# A stage's NPS scores, roughly (a believable spread per stage).
BY_STAGE = {
    0: [10, 9, 8, 7, 6, 5, 3],
    1: [10, 10, 9, 9, 8, 7, 6, 4],
    2: [10, 10, 10, 9, 9, 8, 7],
    3: [8, 7, 6, 5, 4, 2, 0],
}


def build_answers(
    *,
    workspace_id: int,
    first_contact_id: int,
    contacts: int,
    stages: list[tuple[int, str]],
    now: dt.datetime,
    count: int = ANSWERS,
    seed: int = 16,
) -> dict[str, int]:
    """COPY `count` answers to two new surveys; returns their ids and the count."""
    from django.db import connection

    from surveys.models import Survey

    nps = Survey.objects.create(
        workspace_id=workspace_id, name="Bench NPS", kind="nps", question="Recommend us?"
    )
    csat = Survey.objects.create(
        workspace_id=workspace_id,
        name="Bench CSAT",
        kind="csat",
        question="Happy?",
        scale_min=1,
        scale_max=5,
    )
    rng = random.Random(seed)
    columns = (
        "workspace_id, survey_id, contact_id, send_key, score, category, comment, channel, "
        "stage_id, stage_name, answered_at, updated_at, last_tap_at, taps, version, "
        "settled_version, locked, is_bot"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY surveys_surveyresponse ({columns}) FROM STDIN") as copy,
    ):
        for i in range(count):
            is_nps = i % 3 != 0
            stage_index = min(int(rng.expovariate(0.9)), len(stages) - 1)
            stage_id, stage_name = stages[stage_index]
            nps_score = rng.choice(BY_STAGE[stage_index % 4])
            score = nps_score if is_nps else max(1, min(5, round(nps_score / 2)))
            category = ""
            if is_nps:
                category = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            at = now - dt.timedelta(days=365 * rng.random() ** 1.3)
            copy.write_row(
                (
                    workspace_id,
                    nps.pk if is_nps else csat.pk,
                    first_contact_id + i % contacts,
                    f"b{i}",
                    score,
                    category,
                    rng.choice(COMMENTS) if rng.random() < 0.17 else "",
                    rng.choice(("email", "email", "email", "sms", "link")),
                    stage_id,
                    stage_name,
                    at,
                    at,
                    at,
                    1,
                    1,
                    1,  # settled: a year of answers beat told the engine of long ago
                    False,
                    rng.random() < 0.01,
                )
            )
    with connection.cursor() as cursor:  # after the COPY has ended
        cursor.execute("ANALYZE surveys_surveyresponse")
    return {"nps_survey": nps.pk, "csat_survey": csat.pk, "answers": count}


def survey_urls(ids: dict[str, Any], today: dt.date, slug: str) -> dict[str, dict[str, str]]:
    """The survey endpoints and pages the benchmarks time."""
    quarter = f"start={today - dt.timedelta(days=89)}&end={today}"
    year = f"start={today - dt.timedelta(days=364)}&end={today}"
    nps, csat = ids["nps_survey"], ids["csat_survey"]
    return {
        "api": {
            "survey_results_quarter": f"/api/v1/surveys/{nps}/results/?{quarter}",
            "survey_results_year": f"/api/v1/surveys/{nps}/results/?{year}&granularity=month",
            "survey_results_stage": f"/api/v1/surveys/{nps}/results/?{year}&stage=Customer",
            "survey_csat_results": f"/api/v1/surveys/{csat}/results/?{quarter}",
            "survey_comments": f"/api/v1/surveys/{nps}/results/comments/?{year}",
            "overview_with_nps": f"/api/v1/analytics/overview/?{quarter}",
        },
        "pages": {
            "survey_report_page": f"/w/{slug}/surveys/{nps}/report/?{quarter}",
        },
    }
