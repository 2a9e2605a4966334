"""Survey rollups per segment: SurveySegmentAnswerDay and SurveySegmentSendDay, the
survey rollups restricted to the contacts stored as each segment's members
(contacts_segmentmember), so that a report filtered by a segment, and the table of
every segment, sum a few thousand rows instead of joining the segment's raw answers.

The invariant: for every segment, its rows equal the survey rollups computed over the
answers and sends of the contacts in contacts_segmentmember for it now (whether or not
the members follow the rule yet; readers use the rows only while `members_ready`).
Three writers keep it:

1. Answers change (the answers hook, `survey_answers_refresh`): the answers' (survey,
   day) groups are recomputed for every segment at once from the raw answers joined
   with the members. Sends are recounted the same way for the days the sends refresh
   recounts.
2. Members change (contacts' `on_segment_members_changed` hook, in the transaction that
   wrote the member rows, holding that segment's lock): the joining contacts' answers
   and sends are added to the segment's rows and the leaving contacts' taken out.
3. A rebuild recomputes everything of the workspace.

Why it stays exact: writer 2 holds the segment's lock; writers 1 and 3 take every
segment lock of the workspace (id order, the order of every members writer) before the
survey locks, so a members change and a recomputation never interleave — the one that
runs second reads what the first committed (READ COMMITTED: each statement sees what
committed before it began). An answer not yet committed while a contact joins is
counted by that answer's own recomputation, which runs after the join commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

_ANSWER_COLUMNS = (
    "workspace_id, segment_id, survey_id, day, stage_name, channel, journey_id, score, "
    "answers, comments"
)
_ANSWER_KEY = "workspace_id, segment_id, survey_id, day, stage_name, channel, journey_id, score"
_SEND_KEY = "workspace_id, segment_id, survey_id, day, stage_name, channel, journey_id"

# Counted answers grouped per segment: `{segment}` is the member join's segment id (or
# a constant for a joining or leaving contact), `{join}` the member join (or nothing).
_ANSWERS_SELECT = """
SELECT r.workspace_id, {segment}, r.survey_id, (r.answered_at AT TIME ZONE w.time_zone)::date,
       r.stage_name, r.channel, coalesce(s.journey_id, 0), r.score,
       count(*), count(*) FILTER (WHERE r.comment <> '')
FROM surveys_surveyresponse r
{join}
JOIN workspaces_workspace w ON w.id = r.workspace_id
LEFT JOIN campaigns_message m
  ON m.workspace_id = r.workspace_id AND m.id = r.message_id AND m.origin_kind = 'journey_step'
LEFT JOIN campaigns_journeystep s ON s.workspace_id = m.workspace_id AND s.id = m.origin_id
WHERE r.workspace_id = %(ws)s AND NOT r.is_bot {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
"""
_MEMBER_JOIN = (
    "JOIN contacts_segmentmember sm ON sm.workspace_id = r.workspace_id "
    "AND sm.contact_id = r.contact_id"
)

# The stage a message's contact was in when it was sent: the last move at or before.
STAGE_WHEN_SENT = """LEFT JOIN LATERAL (
    SELECT st.name FROM lifecycle_stagetransition t
    JOIN lifecycle_stage st ON st.id = t.to_stage_id
    WHERE t.contact_id = msg.contact_id AND t.at <= msg.sent_at
    ORDER BY t.at DESC, t.id DESC LIMIT 1
) sg ON true"""

# Survey messages sent, grouped per segment (same placeholders as the answers').
_SENDS_SELECT = (
    """
WITH named AS (
    SELECT DISTINCT t.id AS template_id, (m[1])::bigint AS survey_id
    FROM campaigns_template t,
         regexp_matches(t.subject || ' ' || t.body || ' ' || t.text_body,
                        '\\msurvey_(\\d{1,18})\\M', 'g') m
    WHERE t.workspace_id = %(ws)s
)
SELECT %(ws)s, {segment}, n.survey_id, (msg.sent_at AT TIME ZONE w.time_zone)::date,
       coalesce(sg.name, ''), msg.channel, coalesce(s.journey_id, 0), count(*)
FROM named n
JOIN surveys_survey sv ON sv.workspace_id = %(ws)s AND sv.id = n.survey_id
JOIN campaigns_message msg ON msg.template_id = n.template_id AND msg.workspace_id = %(ws)s
{join}
JOIN workspaces_workspace w ON w.id = %(ws)s
LEFT JOIN campaigns_journeystep s
  ON msg.origin_kind = 'journey_step' AND s.workspace_id = %(ws)s AND s.id = msg.origin_id
"""
    + STAGE_WHEN_SENT
    + """
WHERE msg.sent_at IS NOT NULL AND NOT msg.is_test {where}
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
"""
)
_SEND_MEMBER_JOIN = (
    "JOIN contacts_segmentmember sm ON sm.workspace_id = msg.workspace_id "
    "AND sm.contact_id = msg.contact_id"
)


def _fill(template: str, *, segment: str, join: str, where: str) -> str:
    """The template with its placeholders filled (str.format would read the regular
    expression's `{1,18}` as one)."""
    return template.replace("{segment}", segment).replace("{join}", join).replace("{where}", where)


def segment_answers_recompute(cursor: Any, params: dict[str, Any], where: str) -> None:
    """Writer 1: the (survey, day) groups of `params` for every segment, from the raw
    answers (`where` as the survey rollup's, same params). The caller holds the
    workspace's segment locks and the survey's lock."""
    cursor.execute(
        "DELETE FROM analytics_surveysegmentanswerday WHERE workspace_id = %(ws)s "
        "AND survey_id = %(survey)s AND day = ANY(%(days)s)",
        params,
    )
    select = _fill(_ANSWERS_SELECT, segment="sm.segment_id", join=_MEMBER_JOIN, where=where)
    cursor.execute(
        f"INSERT INTO analytics_surveysegmentanswerday ({_ANSWER_COLUMNS}) {select}", params
    )


def segment_sends_recompute(cursor: Any, *, workspace_id: int, since: dt.datetime) -> None:
    """Writer 1 for sends: every segment's sends from `since` (a local midnight), in the
    sends refresh's transaction (which holds the workspace's segment locks)."""
    day = since.date()
    cursor.execute(
        "DELETE FROM analytics_surveysegmentsendday WHERE workspace_id = %s AND day >= %s",
        [workspace_id, day],
    )
    select = _fill(
        _SENDS_SELECT,
        segment="sm.segment_id",
        join=_SEND_MEMBER_JOIN,
        where="AND msg.sent_at >= %(since)s",
    )
    cursor.execute(
        "INSERT INTO analytics_surveysegmentsendday (workspace_id, segment_id, survey_id, day, "
        "stage_name, channel, journey_id, sent) " + select,
        {"ws": workspace_id, "since": since},
    )


def segment_rollups_rebuild(cursor: Any, *, workspace_id: int) -> None:
    """Writer 3: every segment's answers of the workspace (its sends come with the
    sends refresh from the beginning). The caller holds the segment and survey locks."""
    cursor.execute(
        "DELETE FROM analytics_surveysegmentanswerday WHERE workspace_id = %s", [workspace_id]
    )
    select = _fill(_ANSWERS_SELECT, segment="sm.segment_id", join=_MEMBER_JOIN, where="")
    cursor.execute(
        f"INSERT INTO analytics_surveysegmentanswerday ({_ANSWER_COLUMNS}) {select}",
        {"ws": workspace_id},
    )


def _delta(
    cursor: Any,
    table: str,
    key: str,
    values: list[str],
    select: str,
    params: dict[str, Any],
    sign: int,
) -> None:
    """Add (sign 1) or take out (sign -1) the grouped rows of `select` to `table`."""
    if sign > 0:
        updates = ", ".join(f"{v} = t.{v} + excluded.{v}" for v in values)
        cursor.execute(
            f"INSERT INTO {table} AS t ({key}, {', '.join(values)}) {select} "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
            params,
        )
        return
    names = key.split(", ")
    columns = ", ".join([*names, *values])
    updates = ", ".join(f"{v} = t.{v} - d.{v}" for v in values)
    match = " AND ".join(f"t.{n} = d.{n}" for n in names)
    cursor.execute(
        f"UPDATE {table} t SET {updates} FROM ({select}) AS d({columns}) WHERE {match}", params
    )
    cursor.execute(
        f"DELETE FROM {table} WHERE workspace_id = %(ws)s AND segment_id = %(segment)s "
        f"AND {values[0]} <= 0",
        params,
    )


def segment_members_changed(
    workspace_id: int, segment_id: int, joined: list[int], left: list[int]
) -> None:
    """Writer 2 (contacts' hook, holding the segment's lock): the joining contacts'
    answers and sends added to the segment's rows, the leaving contacts' taken out."""
    with connection.cursor() as cursor:
        for contacts, sign in ((joined, 1), (left, -1)):
            if not contacts:
                continue
            params = {"ws": workspace_id, "segment": segment_id, "contacts": sorted(contacts)}
            answers = _fill(
                _ANSWERS_SELECT,
                segment="%(segment)s::bigint",
                join="",
                where="AND r.contact_id = ANY(%(contacts)s::bigint[])",
            )
            _delta(
                cursor,
                "analytics_surveysegmentanswerday",
                _ANSWER_KEY,
                ["answers", "comments"],
                answers,
                params,
                sign,
            )
            sends = _fill(
                _SENDS_SELECT,
                segment="%(segment)s::bigint",
                join="",
                where="AND msg.contact_id = ANY(%(contacts)s::bigint[])",
            )
            _delta(
                cursor, "analytics_surveysegmentsendday", _SEND_KEY, ["sent"], sends, params, sign
            )


def segment_sends_forget_contact(cursor: Any, *, workspace_id: int, contact_id: int) -> None:
    """An erased contact's sends taken out of its segments' rows (its answers go with
    the answers' recomputation without it), before its member rows go."""
    cursor.execute(
        "SELECT segment_id FROM contacts_segmentmember WHERE workspace_id = %s "
        "AND contact_id = %s ORDER BY segment_id",
        [workspace_id, contact_id],
    )
    for (segment_id,) in cursor.fetchall():
        params = {"ws": workspace_id, "segment": segment_id, "contacts": [contact_id]}
        sends = _fill(
            _SENDS_SELECT,
            segment="%(segment)s::bigint",
            join="",
            where="AND msg.contact_id = ANY(%(contacts)s::bigint[])",
        )
        _delta(cursor, "analytics_surveysegmentsendday", _SEND_KEY, ["sent"], sends, params, -1)
