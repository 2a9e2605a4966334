"""A survey's figures for every segment at once (the report's "By segment" table and
`by_segment` in the results API): one row per segment — answers of its members now,
NPS with its 95% interval, CSAT, the mean, and the response rate (answers by email and
SMS over the survey messages sent to its members) — summed from the per-segment
rollups in two statements. A segment whose stored members are still being built for its
rule has no figures yet (`ready` false): reading each such rule live at 1M contacts
would cost seconds per segment."""

from __future__ import annotations

from typing import Any

from analytics.figures.common import Period, fetch
from contacts.models import Segment
from surveys.selectors import Figures
from workspaces.models import Workspace

_ANSWERS_SQL = """
SELECT segment_id, sum(answers), sum(answers) FILTER (WHERE score >= 9),
       sum(answers) FILTER (WHERE score BETWEEN 7 AND 8),
       sum(answers) FILTER (WHERE score <= 6), sum(answers) FILTER (WHERE score >= 4),
       sum(answers * score), sum(answers) FILTER (WHERE channel IN ('email', 'sms'))
FROM analytics_surveysegmentanswerday
WHERE workspace_id = %s AND segment_id = ANY(%s) AND survey_id = %s
  AND day >= %s AND day <= %s {stage}
GROUP BY segment_id
"""
_SENDS_SQL = """
SELECT segment_id, sum(sent) FROM analytics_surveysegmentsendday
WHERE workspace_id = %s AND segment_id = ANY(%s) AND survey_id = %s
  AND day >= %s AND day <= %s {stage}
GROUP BY segment_id
"""


def survey_segment_rows(
    *,
    workspace: Workspace,
    survey_id: int,
    kind: str,
    period: Period,
    stage: str | None,
    figures_dict: Any,
) -> list[dict[str, Any]]:
    """One row per segment of the workspace, by name (`figures_dict` shapes a group's
    figures as the rest of the results)."""
    segments = list(Segment.objects.filter(workspace=workspace).order_by("name", "pk"))
    ready = [s.pk for s in segments if s.members_ready]
    stage_sql = "" if stage is None else "AND stage_name = %s"
    params = [workspace.pk, ready, survey_id, period.start, period.end]
    params += [] if stage is None else [stage]
    answers: dict[int, tuple[Any, ...]] = {}
    sent: dict[int, int] = {}
    if ready:
        answers = {row[0]: row for row in fetch(_ANSWERS_SQL.format(stage=stage_sql), params)}
        sent = {row[0]: int(row[1]) for row in fetch(_SENDS_SQL.format(stage=stage_sql), params)}
    rows = []
    for segment in segments:
        row = answers.get(segment.pk)
        figures = Figures(*(int(v or 0) for v in row[1:7])) if row else Figures()
        rated = int(row[7] or 0) if row else 0
        rows.append(
            {
                **figures_dict(figures, kind),
                "segment_id": segment.pk,
                "name": segment.name,
                "ready": segment.members_ready,
                "answers": figures.count if segment.members_ready else None,
                "members": segment.member_count if segment.members_ready else None,
                "sent": sent.get(segment.pk, 0) if segment.members_ready else None,
                "response_rate": round(rated / sent[segment.pk], 4)
                if sent.get(segment.pk)
                else None,
            }
        )
    return rows
