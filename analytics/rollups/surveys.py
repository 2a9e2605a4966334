"""Survey rollups: counted answers per (survey, local day, stage then, channel, journey,
score) in SurveyAnswerDay, and survey messages sent per (survey, local day, channel,
journey) in SurveySendDay. The answers (surveys_surveyresponse) and the outbox stay the
definition; both tables can be rebuilt from them.

Answers: the surveys' `on_answers_changed` hook, in the answer's transaction, recomputes
the (survey, day) groups of the answers it is given from the raw answers, holding the
survey's advisory lock. Under READ COMMITTED each statement sees what committed before
it started, and the lock is taken before the recomputation reads, so the last writer of
a group always counts every answer committed before it: recomputing, not adding, makes
a changed score, a discarded scanner burst or a comment exact, and a hook run twice
harmless. An answer's day never changes (`answered_at` is set once).

Sends: a message gets `sent_at` from messaging's worker, which offers no hook; beat
recomputes the last two local days of every workspace with surveys every minute
(`survey_sends_refresh`), the rebuild every day. A survey message is one whose template
names `survey_<id>` (what the renderer fills in, surveys/render.py)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from analytics.cache import data_changed
from analytics.rollups.survey_segments import (
    STAGE_WHEN_SENT,
    segment_answers_recompute,
    segment_rollups_rebuild,
    segment_sends_forget_contact,
    segment_sends_recompute,
)
from contacts.services import segment_locks
from surveys.models import Survey

_SURVEY_LOCK = 7205  # advisory-lock namespace: one survey's answer rollup
_SENDS_LOCK = 7206  # one workspace's send rollup

# The counted answers, grouped as SurveyAnswerDay keeps them. The journey is that of
# the message answered (a journey step's message names its step).
_ANSWERS_SELECT = """
SELECT r.workspace_id, r.survey_id, (r.answered_at AT TIME ZONE w.time_zone)::date,
       r.stage_name, r.channel, coalesce(s.journey_id, 0), r.score,
       count(*), count(*) FILTER (WHERE r.comment <> '')
FROM surveys_surveyresponse r
JOIN workspaces_workspace w ON w.id = r.workspace_id
LEFT JOIN campaigns_message m
  ON m.workspace_id = r.workspace_id AND m.id = r.message_id AND m.origin_kind = 'journey_step'
LEFT JOIN campaigns_journeystep s ON s.workspace_id = m.workspace_id AND s.id = m.origin_id
WHERE r.workspace_id = %(ws)s AND NOT r.is_bot {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
"""
_ANSWERS_INSERT = (
    "INSERT INTO analytics_surveyanswerday (workspace_id, survey_id, day, stage_name, "
    "channel, journey_id, score, answers, comments) "
)

# Templates that name a survey, and the survey messages they sent.
_SENDS_SELECT = """
WITH named AS (
    SELECT DISTINCT t.id AS template_id, (m[1])::bigint AS survey_id
    FROM campaigns_template t,
         regexp_matches(t.subject || ' ' || t.body || ' ' || t.text_body,
                        '\\msurvey_(\\d{1,18})\\M', 'g') m
    WHERE t.workspace_id = %(ws)s
)
SELECT %(ws)s, n.survey_id, (msg.sent_at AT TIME ZONE w.time_zone)::date,
       coalesce(sg.name, ''), msg.channel, coalesce(s.journey_id, 0), count(*)
FROM named n
JOIN surveys_survey sv ON sv.workspace_id = %(ws)s AND sv.id = n.survey_id
JOIN campaigns_message msg ON msg.template_id = n.template_id AND msg.workspace_id = %(ws)s
JOIN workspaces_workspace w ON w.id = %(ws)s
LEFT JOIN campaigns_journeystep s
  ON msg.origin_kind = 'journey_step' AND s.workspace_id = %(ws)s AND s.id = msg.origin_id
{STAGE_WHEN_SENT}
WHERE msg.sent_at IS NOT NULL AND NOT msg.is_test AND msg.sent_at >= %(since)s
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
""".replace("{STAGE_WHEN_SENT}", STAGE_WHEN_SENT)


def _lock_surveys(survey_ids: Sequence[int]) -> None:
    with connection.cursor() as cursor:
        for survey_id in sorted(set(survey_ids)):  # one lock order for every writer
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SURVEY_LOCK, survey_id])


def _time_zone(workspace_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT time_zone FROM workspaces_workspace WHERE id = %s", [workspace_id])
        return str(cursor.fetchone()[0])


def survey_answers_refresh(
    *,
    workspace_id: int,
    survey_id: int,
    response_ids: Sequence[int],
    without_contact: int | None = None,
) -> None:
    """Recompute the days of these answers (the hook; in the caller's transaction).
    `without_contact` leaves a contact out (its erasure, before its answers go).
    Every segment's rows of these days too (analytics/rollups/survey_segments.py), so
    the segment locks come first: the lock order of every writer of those rows."""
    segment_locks(workspace_id=workspace_id)
    _lock_surveys([survey_id])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (r.answered_at AT TIME ZONE w.time_zone)::date "
            "FROM surveys_surveyresponse r JOIN workspaces_workspace w ON w.id = r.workspace_id "
            "WHERE r.workspace_id = %s AND r.id = ANY(%s)",
            [workspace_id, list(response_ids)],
        )
        days = sorted(row[0] for row in cursor.fetchall())
        if not days:
            return
        tz = zoneinfo.ZoneInfo(_time_zone(workspace_id))
        low = dt.datetime.combine(days[0], dt.time(), tzinfo=tz)
        high = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        params: dict[str, Any] = {
            "ws": workspace_id,
            "survey": survey_id,
            "days": days,
            "low": low,
            "high": high,
            "contact": without_contact,
        }
        cursor.execute(
            "DELETE FROM analytics_surveyanswerday WHERE workspace_id = %(ws)s "
            "AND survey_id = %(survey)s AND day = ANY(%(days)s)",
            params,
        )
        where = (
            "AND r.survey_id = %(survey)s AND r.answered_at >= %(low)s "
            "AND r.answered_at < %(high)s "
            "AND (r.answered_at AT TIME ZONE w.time_zone)::date = ANY(%(days)s)"
        )
        if without_contact is not None:
            where += " AND r.contact_id IS DISTINCT FROM %(contact)s"
        cursor.execute(_ANSWERS_INSERT + _ANSWERS_SELECT.format(where=where), params)
        segment_answers_recompute(cursor, params, where)


def survey_rollups_erase(*, workspace_id: int, contact_id: int) -> None:
    """In the erasure's transaction, before the contact's answers are deleted with it:
    recompute the days they counted in, without them, and take its sends out of its
    segments' rows."""
    segment_locks(workspace_id=workspace_id)
    with connection.cursor() as cursor:
        segment_sends_forget_contact(cursor, workspace_id=workspace_id, contact_id=contact_id)
        cursor.execute(
            "SELECT survey_id, array_agg(id ORDER BY id) FROM surveys_surveyresponse "
            "WHERE workspace_id = %s AND contact_id = %s GROUP BY survey_id ORDER BY survey_id",
            [workspace_id, contact_id],
        )
        found = cursor.fetchall()
    for survey_id, ids in found:
        survey_answers_refresh(
            workspace_id=workspace_id,
            survey_id=survey_id,
            response_ids=ids,
            without_contact=contact_id,
        )


def _sends_digest(cursor: Any, workspace_id: int, start: dt.date) -> Any:
    """What the sends from `start` add up to (whether a recount changed anything)."""
    cursor.execute(
        "SELECT count(*), sum(sent), sum(hashtext(survey_id || stage_name || channel "
        "|| journey_id || day::text)::bigint * sent) FROM analytics_surveysendday "
        "WHERE workspace_id = %s AND day >= %s",
        [workspace_id, start],
    )
    return cursor.fetchone()


def survey_sends_refresh(*, workspace_id: int, since: dt.date | None = None) -> None:
    """Recompute the sends of the local days from `since` (every day when None)."""
    with transaction.atomic(), connection.cursor() as cursor:
        segment_locks(workspace_id=workspace_id)
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SENDS_LOCK, workspace_id])
        tz = zoneinfo.ZoneInfo(_time_zone(workspace_id))
        start = dt.date(1970, 1, 1) if since is None else since
        before = _sends_digest(cursor, workspace_id, start)
        cursor.execute(
            "DELETE FROM analytics_surveysendday WHERE workspace_id = %s AND day >= %s",
            [workspace_id, start],
        )
        since_at = dt.datetime.combine(start, dt.time(), tzinfo=tz)
        cursor.execute(
            "INSERT INTO analytics_surveysendday (workspace_id, survey_id, day, stage_name, "
            "channel, journey_id, sent) " + _SENDS_SELECT,
            {"ws": workspace_id, "since": since_at},
        )
        segment_sends_recompute(cursor, workspace_id=workspace_id, since=since_at)
        if _sends_digest(cursor, workspace_id, start) != before:
            data_changed(workspace_ids={workspace_id})  # cached figures are stale


def survey_sends_recent(*, workspace_id: int) -> None:
    """Beat: the sends of the workspace's yesterday and today (local)."""
    today = dt.datetime.now(zoneinfo.ZoneInfo(_time_zone(workspace_id))).date()
    survey_sends_refresh(workspace_id=workspace_id, since=today - dt.timedelta(days=1))


def workspaces_with_surveys() -> list[int]:
    return list(Survey.objects.order_by().values_list("workspace_id", flat=True).distinct())


def survey_rollups_rebuild(*, workspace_id: int) -> None:
    """Every survey rollup of the workspace from the raw answers and outbox, holding each
    of its surveys' locks (answers to them wait for the seconds this takes)."""
    survey_ids = list(Survey.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        segment_locks(workspace_id=workspace_id)
        _lock_surveys(survey_ids)
        cursor.execute(
            "DELETE FROM analytics_surveyanswerday WHERE workspace_id = %s", [workspace_id]
        )
        cursor.execute(_ANSWERS_INSERT + _ANSWERS_SELECT.format(where=""), {"ws": workspace_id})
        segment_rollups_rebuild(cursor, workspace_id=workspace_id)
    survey_sends_refresh(workspace_id=workspace_id)
