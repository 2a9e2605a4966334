"""Where the survey figures read from: the counted answers of some surveys in a period,
grouped by (day, stage then, channel, journey, score), and the survey messages sent.

- No filter: the SurveyAnswerDay and SurveySendDay rollups.
- A segment whose stored members follow its rule (`members_ready`): the per-segment
  rollups SurveySegmentAnswerDay and SurveySegmentSendDay (analytics/rollups/
  survey_segments.py), equal to the raw answers and sends of its members now.
- Any other contact filter (a segment still being built, read live from its rule): the
  same grouping computed from the raw answers of those contacts, and no sends (so no
  response rate)."""

from __future__ import annotations

from typing import Any

from analytics.figures.common import Filters, Period, fetch
from analytics.figures.period_sums import MARKED, group_conditions
from analytics.rollups.answer_groups import UNSETTLED
from contacts.models import Segment
from workspaces.models import Workspace

_ROLLUP_SOURCE = """
SELECT day, stage_name, channel, journey_id, score, answers, comments
FROM analytics_surveyanswerday
WHERE workspace_id = %s AND survey_id = ANY(%s) AND day >= %s AND day <= %s
"""
_SEGMENT_SOURCE = """
SELECT day, stage_name, channel, journey_id, score, answers, comments
FROM analytics_surveysegmentanswerday
WHERE workspace_id = %s AND segment_id = %s AND survey_id = ANY(%s) AND day >= %s AND day <= %s
"""
_RAW_SOURCE = """
SELECT (r.answered_at AT TIME ZONE %s)::date AS day, r.stage_name, r.channel,
       coalesce(s.journey_id, 0) AS journey_id, r.score, count(*) AS answers,
       count(*) FILTER (WHERE r.comment <> '') AS comments
FROM surveys_surveyresponse r
LEFT JOIN campaigns_message m
  ON m.workspace_id = r.workspace_id AND m.id = r.message_id AND m.origin_kind = 'journey_step'
LEFT JOIN campaigns_journeystep s ON s.workspace_id = m.workspace_id AND s.id = m.origin_id
WHERE r.workspace_id = %s AND r.survey_id = ANY(%s) AND NOT r.is_bot
  AND r.answered_at >= %s AND r.answered_at < %s AND {condition}
GROUP BY 1, 2, 3, 4, 5
"""

# Sends per channel, journey and stage when sent, in one pass.
_SENDS_SQL = """
SELECT CASE WHEN grouping(channel) = 0 THEN 'channel'
            WHEN grouping(journey_id) = 0 THEN 'journey' ELSE 'stage' END,
       channel, journey_id, stage_name, sum(sent)
FROM {table}
WHERE workspace_id = %s AND survey_id = %s AND day >= %s AND day <= %s {where}
GROUP BY GROUPING SETS ((channel), (journey_id), (stage_name))
"""


def rolled_up_segment(filters: Filters) -> Segment | None:
    """The segment of a filter that is a segment alone, when its per-segment rollups
    can be read (its stored members follow its rule)."""
    segment = filters.segment
    if segment is None or filters.source is not None or filters.signup_month:
        return None
    return segment if segment.members_ready else None


def answers_source(
    workspace: Workspace, survey_ids: list[int], period: Period, filters: Filters
) -> tuple[str, list[Any]]:
    """SQL of the grouped counted answers and its parameters."""
    if not filters:
        return _ROLLUP_SOURCE, [workspace.pk, survey_ids, period.start, period.end]
    segment = rolled_up_segment(filters)
    if segment is not None:
        return _SEGMENT_SOURCE, [workspace.pk, segment.pk, survey_ids, period.start, period.end]
    condition, params = filters.contacts_sql(workspace, "r.contact_id")
    start, end = period.bounds(workspace.time_zone)
    return _RAW_SOURCE.format(condition=condition), [
        workspace.time_zone,
        workspace.pk,
        survey_ids,
        start,
        end,
        *params,
    ]


def sends_known(filters: Filters) -> bool:
    """Whether the sends to the filtered contacts are counted (for response rates)."""
    return not filters or rolled_up_segment(filters) is not None


def sends(
    workspace: Workspace, survey_id: int, period: Period, stage: str | None, filters: Filters
) -> dict[str, dict[Any, int]]:
    """Messages sent per channel, journey and stage when sent ({} each when the
    filtered contacts' sends are not counted)."""
    found: dict[str, dict[Any, int]] = {"channel": {}, "journey": {}, "stage": {}}
    if not sends_known(filters):
        return found
    table, where, params = "analytics_surveysendday", "", list[Any]()
    segment = rolled_up_segment(filters)
    if segment is not None:
        table, where, params = "analytics_surveysegmentsendday", "AND segment_id = %s", [segment.pk]
    if stage is not None:
        where += " AND stage_name = %s"
        params.append(stage)
    rows = fetch(
        _SENDS_SQL.format(table=table, where=where),
        [workspace.pk, survey_id, period.start, period.end, *params],
    )
    for part, channel, journey_id, stage_name, sent in rows:
        key = {"channel": channel, "journey": journey_id, "stage": stage_name}[part]
        found[part][int(key) if part == "journey" else key] = int(sent)
    return found


# The overview's totals of the filtered contacts' raw answers, for both kinds of survey
# and both periods in one pass: (nps?, in the later period?, the six counts).
_RAW_TOTALS = """
SELECT r.survey_id = ANY(%s), r.answered_at >= %s, count(*),
       count(*) FILTER (WHERE r.score >= 9),
       count(*) FILTER (WHERE r.score BETWEEN 7 AND 8),
       count(*) FILTER (WHERE r.score <= 6),
       count(*) FILTER (WHERE r.score >= 4),
       coalesce(sum(r.score), 0)
FROM surveys_surveyresponse r
WHERE r.workspace_id = %s AND r.survey_id = ANY(%s) AND NOT r.is_bot
  AND r.answered_at >= %s AND r.answered_at < %s AND {condition}
GROUP BY 1, 2
"""
# The same for a source or signup-month filter alone, from the answer sums by group
# (analytics/rollups/answer_groups.py), with, for the kept contacts the engine has yet
# to take in (a mark, or an answer not yet settled), what their rows put in them
# replaced by their answers now. One statement, one snapshot (as the order sums,
# period_sums.py).
_GROUP_TOTALS = f"""
WITH marked AS MATERIALIZED ({MARKED} UNION {UNSETTLED}),
kept AS MATERIALIZED (
    SELECT contact_id FROM analytics_customerfacts
    WHERE workspace_id = %(ws)s {{group}} AND contact_id IN (SELECT contact_id FROM marked)
),
counted AS (
    SELECT survey_id, day, score, answers FROM analytics_answergroupday
    WHERE workspace_id = %(ws)s AND survey_id = ANY(%(ids)s) AND day BETWEEN %(s)s AND %(e)s
      {{group}}
    UNION ALL
    SELECT survey_id, day, score, -answers FROM analytics_contactanswerday
    WHERE contact_id IN (SELECT contact_id FROM kept) AND workspace_id = %(ws)s
      AND survey_id = ANY(%(ids)s) AND day BETWEEN %(s)s AND %(e)s
    UNION ALL
    SELECT survey_id, (answered_at AT TIME ZONE %(tz)s)::date, score, 1
    FROM surveys_surveyresponse
    WHERE contact_id IN (SELECT contact_id FROM kept) AND workspace_id = %(ws)s
      AND survey_id = ANY(%(ids)s) AND NOT is_bot
      AND answered_at >= %(start)s AND answered_at < %(end)s
)
SELECT survey_id = ANY(%(nps)s), day >= %(middle)s, sum(answers),
       coalesce(sum(answers) FILTER (WHERE score >= 9), 0),
       coalesce(sum(answers) FILTER (WHERE score BETWEEN 7 AND 8), 0),
       coalesce(sum(answers) FILTER (WHERE score <= 6), 0),
       coalesce(sum(answers) FILTER (WHERE score >= 4), 0),
       coalesce(sum(answers * score), 0)
FROM counted
GROUP BY 1, 2
HAVING sum(answers) <> 0
"""


def filtered_totals(
    workspace: Workspace,
    nps_ids: list[int],
    other_ids: list[int],
    periods: tuple[Period, Period],
    filters: Filters,
) -> dict[tuple[bool, bool], tuple[int, ...]] | None:
    """{(nps, later period): counts} of the answers `answers_source` would read raw
    (none when it reads a rollup instead): for a source or signup-month filter alone
    from the sums by group, for one with a segment from the kept contacts' answers.
    The periods are consecutive, earlier first."""
    if not filters or rolled_up_segment(filters) is not None:
        return None
    earlier, later = periods
    start = earlier.bounds(workspace.time_zone)[0]
    middle, end = later.bounds(workspace.time_zone)
    if filters.segment is None:
        group, _, named = group_conditions(filters)
        rows = fetch(
            _GROUP_TOTALS.format(group=group),
            {
                "ws": workspace.pk,
                "ids": nps_ids + other_ids,
                "nps": nps_ids,
                "s": earlier.start,
                "e": later.end,
                "middle": later.start,
                "tz": workspace.time_zone,
                "start": start,
                "end": end,
                **named,
            },
        )
    else:
        condition, params = filters.contacts_sql(workspace, "r.contact_id")
        rows = fetch(
            _RAW_TOTALS.format(condition=condition),
            [nps_ids, middle, workspace.pk, nps_ids + other_ids, start, end, *params],
        )
    return {(nps, now): tuple(int(v) for v in counts) for nps, now, *counts in rows}
