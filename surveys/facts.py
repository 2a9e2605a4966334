"""Each contact's latest counted answers (ContactSurveyFacts), rewritten from the
answers themselves, so a changed or discarded answer can never leave a stale value."""

from __future__ import annotations

from django.db import connection

from surveys.models import SurveyKind

_REFRESH_SQL = """
WITH counted AS (
    SELECT r.score, r.category, r.updated_at, s.kind
    FROM surveys_surveyresponse r
    JOIN surveys_survey s ON s.workspace_id = r.workspace_id AND s.id = r.survey_id
    WHERE r.workspace_id = %(ws)s AND r.contact_id = %(contact)s AND NOT r.is_bot
), nps AS (
    SELECT score, category, updated_at FROM counted WHERE kind = %(nps)s
    ORDER BY updated_at DESC LIMIT 1
), csat AS (
    SELECT score, updated_at FROM counted WHERE kind = %(csat)s
    ORDER BY updated_at DESC LIMIT 1
)
INSERT INTO surveys_contactsurveyfacts (
    workspace_id, contact_id, nps_score, nps_category, nps_answered_at, csat_score,
    csat_answered_at, last_answered_at
)
SELECT %(ws)s, %(contact)s, (SELECT score FROM nps), coalesce((SELECT category FROM nps), ''),
       (SELECT updated_at FROM nps), (SELECT score FROM csat), (SELECT updated_at FROM csat),
       (SELECT max(updated_at) FROM counted)
ON CONFLICT (workspace_id, contact_id) DO UPDATE SET
    nps_score = excluded.nps_score, nps_category = excluded.nps_category,
    nps_answered_at = excluded.nps_answered_at, csat_score = excluded.csat_score,
    csat_answered_at = excluded.csat_answered_at, last_answered_at = excluded.last_answered_at
"""


def facts_refresh(*, workspace_id: int, contact_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _REFRESH_SQL,
            {
                "ws": workspace_id,
                "contact": contact_id,
                "nps": SurveyKind.NPS.value,
                "csat": SurveyKind.CSAT.value,
            },
        )
