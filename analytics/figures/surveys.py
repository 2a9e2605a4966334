"""Survey figures: NPS (% promoters 9-10 - % detractors 0-6, with a 95% confidence
interval), CSAT (% of 4-5), the mean (CES), per period bucket, per stage the contact was
in when answering, per channel (with the response rate), per journey, and the
distribution of scores; NPS and CSAT over every survey of the kind for the overview.

One SQL definition (`_FIGURES_SQL`) over a source of counted answers grouped by (day,
stage then, channel, journey, score): the SurveyAnswerDay rollup, a segment's own
rollup, or the raw answers of the filtered contacts (analytics/figures/survey_sources.py).
Response rates divide by the survey messages sent in the period to the same contacts
(SurveySendDay, per stage when sent, or a segment's SurveySegmentSendDay)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from analytics.figures.common import (
    Filters,
    Period,
    buckets,
    fetch,
    parse_filters,
    parse_granularity,
    parse_period,
)
from analytics.figures.survey_segments import survey_segment_rows
from analytics.figures.survey_sources import answers_source, filtered_totals, sends, sends_known
from campaigns.models import Journey
from config.errors import InvalidInput
from contacts.selectors import segment_member_ids_sql
from surveys import scales
from surveys.models import Survey, SurveyKind, SurveyResponse
from surveys.selectors import Figures, responses_for_survey
from workspaces.models import Workspace

MAX_BUCKETS = 750
# The score categories comments can be filtered by, per kind: (lowest, highest) score.
SCORE_CATEGORIES: dict[str, dict[str, tuple[int, int]]] = {
    SurveyKind.NPS: {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)},
    SurveyKind.CSAT: {"satisfied": (4, 5), "neutral": (3, 3), "dissatisfied": (1, 2)},
    SurveyKind.CES: {"easy": (5, 7), "neutral": (4, 4), "difficult": (1, 3)},
}
RATE_CHANNELS = ("email", "sms")  # a link has no sends to divide by


@dataclass(frozen=True)
class SurveyQuery:
    workspace: Workspace
    survey: Survey
    period: Period
    granularity: str
    stage: str | None
    filters: Filters

    def echo(self) -> dict[str, Any]:
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "granularity": self.granularity,
            "stage": self.stage,
            "segment": self.filters.segment.pk if self.filters.segment else None,
        }


def parse_survey_query(params: Any, *, workspace: Workspace, survey: Survey) -> SurveyQuery:
    """start, end (local dates; by default the last 90 days), granularity (day, week,
    month), stage (a stage's name when answering), segment (its current members)."""
    today = dt.datetime.now(zoneinfo.ZoneInfo(workspace.time_zone)).date()
    period = parse_period(params, today=today, default_days=90)
    granularity = parse_granularity(params, "week")
    if len(buckets(period, granularity)) > MAX_BUCKETS:
        raise InvalidInput(
            "Too many buckets.",
            fields={"granularity": [f"at most {MAX_BUCKETS} buckets: a longer one"]},
        )
    stage = params.get("stage") or None
    if stage is not None and (len(stage) > 200 or "\x00" in stage):
        raise InvalidInput(
            "No such stage.", fields={"stage": ["a stage's name: at most 200 characters"]}
        )
    filters = parse_filters({"segment": params.get("segment")}, workspace=workspace)
    return SurveyQuery(workspace, survey, period, granularity, stage, filters)


# Every figure of the report in one pass over the source: GROUPING SETS give the total,
# each bucket, each stage, channel, journey and score.
_FIGURES_SQL = """
SELECT {head},
       coalesce(sum(answers), 0),
       coalesce(sum(answers) FILTER (WHERE score >= 9), 0),
       coalesce(sum(answers) FILTER (WHERE score BETWEEN 7 AND 8), 0),
       coalesce(sum(answers) FILTER (WHERE score <= 6), 0),
       coalesce(sum(answers) FILTER (WHERE score >= 4), 0),
       coalesce(sum(answers * score), 0),
       coalesce(sum(comments), 0)
FROM (SELECT date_trunc(%s, src.day::timestamp)::date AS bucket, src.*
      FROM ({source}) src {stage}) x
GROUP BY GROUPING SETS ({sets})
"""
_ALL_SETS = "(), (bucket), (stage_name), (channel), (journey_id), (score), (stage_name, channel)"
_ALL_HEAD = """CASE WHEN grouping(stage_name) = 0 AND grouping(channel) = 0 THEN 'stage_channel'
    WHEN grouping(bucket) = 0 THEN 'bucket'
    WHEN grouping(stage_name) = 0 THEN 'stage'
    WHEN grouping(channel) = 0 THEN 'channel' WHEN grouping(journey_id) = 0 THEN 'journey'
    WHEN grouping(score) = 0 THEN 'score' ELSE 'all' END,
    bucket, stage_name, channel, journey_id, score"""
# The totals alone (the overview's cards): no grouping to name.
_TOTAL_HEAD = "'all', NULL, NULL, NULL, NULL, NULL"


def _grouped(
    workspace: Workspace,
    survey_ids: list[int],
    period: Period,
    *,
    granularity: str = "day",
    stage: str | None = None,
    filters: Filters,
    sets: str = _ALL_SETS,
) -> list[tuple[Any, ...]]:
    source, params = answers_source(workspace, survey_ids, period, filters)
    stage_sql = "" if stage is None else "WHERE src.stage_name = %s"
    head = _TOTAL_HEAD if sets == "()" else _ALL_HEAD
    sql = _FIGURES_SQL.format(head=head, source=source, stage=stage_sql, sets=sets)
    return fetch(sql, [granularity, *params, *([] if stage is None else [stage])])


def _figures(row: tuple[Any, ...]) -> Figures:
    count, promoters, passives, detractors, satisfied, total = (int(v) for v in row[6:12])
    return Figures(count, promoters, passives, detractors, satisfied, total)


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


def figures_dict(figures: Figures, kind: str) -> dict[str, Any]:
    """A group's figures as the API gives them: NPS in points (-100..100) with the 95%
    interval for an NPS survey, CSAT in percent for a CSAT survey, the mean for all."""
    nps = kind == SurveyKind.NPS
    margin = figures.nps_margin if nps else None
    value = figures.nps if nps else None
    return {
        "answers": figures.count,
        "nps": _round(value),
        "nps_margin": _round(margin),
        "nps_low": None if value is None or margin is None else round(max(value - margin, -100), 2),
        "nps_high": None if value is None or margin is None else round(min(value + margin, 100), 2),
        "promoters": figures.promoters if nps else None,
        "passives": figures.passives if nps else None,
        "detractors": figures.detractors if nps else None,
        "csat": _round(figures.csat) if kind == SurveyKind.CSAT else None,
        "mean": _round(figures.mean, 3),
    }


def _journey_names(workspace: Workspace, ids: set[int]) -> dict[int, str]:
    found = Journey.objects.filter(workspace=workspace, pk__in=ids).values_list("pk", "name")
    return dict(found)


def _rate(answers: int, sent: int | None) -> float | None:
    return round(answers / sent, 4) if sent else None


def _stage_rows(
    kind: str, parts: dict[str, list[tuple[Any, ...]]], sent: dict[Any, int], known: bool
) -> list[dict[str, Any]]:
    """Per stage when answering, with the response rate: its answers by email and SMS
    over the survey messages sent to contacts in that stage (when they were sent)."""
    rated: dict[str, int] = {}
    for row in parts.get("stage_channel", []):
        if row[3] in RATE_CHANNELS:
            rated[row[2] or ""] = rated.get(row[2] or "", 0) + int(row[6])
    answered = {row[2] or "": row for row in parts.get("stage", [])}
    result = []
    for stage in sorted(set(answered) | {name for name, n in sent.items() if n}):
        found = answered.get(stage)
        result.append(
            {
                "stage": stage,
                "sent": sent.get(stage, 0) if known else None,
                "response_rate": _rate(rated.get(stage, 0), sent.get(stage)),
                **figures_dict(_figures(found) if found else Figures(), kind),
            }
        )
    return result


def survey_results(q: SurveyQuery) -> dict[str, Any]:
    """Every figure of a survey's report for the query (one pass over the rollup, one
    over the sends)."""
    kind = q.survey.kind
    rows = _grouped(
        q.workspace,
        [q.survey.pk],
        q.period,
        granularity=q.granularity,
        stage=q.stage,
        filters=q.filters,
    )
    parts: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        parts.setdefault(row[0], []).append(row)
    overall = _figures(parts["all"][0]) if parts.get("all") else Figures()
    by_bucket = {row[1]: _figures(row) for row in parts.get("bucket", [])}
    counts = {int(row[5]): int(row[6]) for row in parts.get("score", [])}
    # Response rates divide by the sends to the same contacts (a stage when sent, a
    # segment's members now); a filter whose sends are not counted has no rates.
    known = sends_known(q.filters)
    rated = RATE_CHANNELS if known else ()
    sent = sends(q.workspace, q.survey.pk, q.period, q.stage, q.filters)
    sent_channel, sent_journey = sent["channel"], sent["journey"]
    journeys = {int(row[4]): _figures(row) for row in parts.get("journey", []) if row[4]}
    names = _journey_names(q.workspace, set(journeys) | set(sent_journey) - {0})
    comments = sum(int(row[12]) for row in parts.get("all", []))
    return {
        "survey": {"id": q.survey.pk, "name": q.survey.name, "kind": kind},
        **q.echo(),
        **figures_dict(overall, kind),
        "comments": comments,
        "distribution": [
            {
                "score": option.score,
                "label": option.label,
                "category": scales.category(kind, option.score),
                "answers": counts.get(option.score, 0),
            }
            for option in scales.options(q.survey)
        ],
        "trend": [
            {"bucket": start.isoformat(), **figures_dict(by_bucket.get(start, Figures()), kind)}
            for start in buckets(q.period, q.granularity)
        ],
        "by_stage": _stage_rows(kind, parts, sent["stage"], known),
        "by_channel": [
            {
                "channel": channel,
                "answers": (answered := _channel_answers(parts, channel)),
                "sent": sent_channel.get(channel) if channel in rated else None,
                "response_rate": _rate(answered, sent_channel.get(channel)),
            }
            for channel in ("email", "sms", "link")
        ],
        "by_journey": [
            {
                "journey_id": journey_id,
                "name": names.get(journey_id, f"Journey {journey_id}"),
                "sent": sent_journey.get(journey_id, 0) if known else None,
                "response_rate": _rate(
                    journeys.get(journey_id, Figures()).count, sent_journey.get(journey_id)
                ),
                **figures_dict(journeys.get(journey_id, Figures()), kind),
            }
            for journey_id in sorted(set(journeys) | (set(sent_journey) - {0}))
        ],
        "by_segment": survey_segment_rows(
            workspace=q.workspace,
            survey_id=q.survey.pk,
            kind=kind,
            period=q.period,
            stage=q.stage,
            figures_dict=figures_dict,
        ),
    }


def _channel_answers(parts: dict[str, list[tuple[Any, ...]]], channel: str) -> int:
    return sum(int(row[6]) for row in parts.get("channel", []) if row[3] == channel)


def survey_overview(*, workspace: Workspace, period: Period, filters: Filters) -> dict[str, Any]:
    """NPS over every NPS survey and CSAT over every CSAT survey of the workspace, in
    the period and the period of the same length before it (change in points)."""
    kinds: dict[str, list[int]] = {SurveyKind.NPS: [], SurveyKind.CSAT: []}
    found = Survey.objects.filter(workspace=workspace, kind__in=list(kinds))
    for pk, kind in found.values_list("pk", "kind"):
        kinds[kind].append(pk)
    result: dict[str, Any] = {}
    # the filtered contacts' raw answers: one pass for both kinds and both periods
    totals = filtered_totals(
        workspace,
        kinds[SurveyKind.NPS],
        kinds[SurveyKind.CSAT],
        (period.previous(), period),
        filters,
    )
    for kind, survey_ids in kinds.items():
        figures = []
        for when in (period, period.previous()):
            if totals is not None:
                counts = totals.get((kind == SurveyKind.NPS, when == period))
                answers = Figures(*counts) if counts else Figures()
            else:
                rows = _grouped(workspace, survey_ids, when, filters=filters, sets="()")
                answers = _figures(rows[0]) if rows else Figures()
            figures.append(figures_dict(answers, kind))
        now, before = figures
        key = "nps" if kind == SurveyKind.NPS else "csat"
        value, previous = now[key], before[key]
        result[key] = {
            **now,
            "value": value,
            "previous": previous,
            "change_points": None
            if value is None or previous is None
            else round(value - previous, 2),
            "surveys": len(survey_ids),
        }
    return result


CATEGORY_NAMES = list(dict.fromkeys(n for kind in SCORE_CATEGORIES.values() for n in kind))


def score_category(kind: str, score: int) -> str:
    for name, (low, high) in SCORE_CATEGORIES.get(kind, {}).items():
        if low <= score <= high:
            return name
    return ""


def parse_category(params: Any) -> str | None:
    """A score category by name; one of another kind of survey matches no answer."""
    value = params.get("category") or None
    if value is not None and value not in CATEGORY_NAMES:
        names = ", ".join(CATEGORY_NAMES)
        raise InvalidInput("Unknown category.", fields={"category": [f"one of {names}"]})
    return value


def survey_comments(q: SurveyQuery, *, category: str | None) -> QuerySet[SurveyResponse]:
    """The counted answers with a comment in the period, newest first, filtered like the
    figures (stage then, segment now) and by score category."""
    start, end = q.period.bounds(q.workspace.time_zone)
    rows = (
        responses_for_survey(survey=q.survey)
        .filter(answered_at__gte=start, answered_at__lt=end)
        .exclude(comment="")
    )
    if q.stage is not None:
        rows = rows.filter(stage_name=q.stage)
    if category is not None:
        low, high = SCORE_CATEGORIES.get(q.survey.kind, {}).get(category, (1, 0))
        rows = rows.filter(score__gte=low, score__lte=high)
    if q.filters.segment is not None:
        sql, params = segment_member_ids_sql(q.filters.segment)
        rows = rows.filter(contact_id__in=RawSQL(sql, params))  # noqa: S611 - fixed SQL, bound params
    return rows


def survey_stage_names(*, workspace: Workspace, survey: Survey) -> list[str]:
    """The stages answers of the survey were given in (for the stage filter)."""
    rows = fetch(
        "SELECT DISTINCT stage_name FROM analytics_surveyanswerday "
        "WHERE workspace_id = %s AND survey_id = %s ORDER BY 1",
        [workspace.pk, survey.pk],
    )
    return [row[0] for row in rows if row[0]]
