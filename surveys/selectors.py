"""Reads the API and the dashboard share: surveys, their counted answers, and a
survey's report (NPS, CSAT, the distribution, per stage and per week). Only counted
answers (not `is_bot`) appear anywhere."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncWeek

from lifecycle.models import ContactStage
from surveys.models import Survey, SurveyResponse
from workspaces.models import Workspace


def surveys_for_workspace(*, workspace: Workspace) -> QuerySet[Survey]:
    return (
        Survey.objects.filter(workspace=workspace)
        .annotate(answers=Count("responses", filter=Q(responses__is_bot=False)))
        .order_by("-created_at", "-id")
    )


def survey_get(*, workspace: Workspace, survey_id: Any) -> Survey | None:
    try:
        pk = int(survey_id)
    except (TypeError, ValueError):
        return None
    return Survey.objects.filter(workspace=workspace, pk=pk).first()


def responses_for_survey(*, survey: Survey) -> QuerySet[SurveyResponse]:
    return (
        SurveyResponse.objects.filter(workspace_id=survey.workspace_id, survey=survey, is_bot=False)
        .select_related("contact")
        .order_by("-answered_at", "-id")
    )


@dataclass
class Figures:
    """What a group of answers says: NPS = % promoters (9-10) minus % detractors (0-6),
    with a 95% confidence interval (normal approximation of the difference of two
    proportions of one sample); CSAT = % of 4-5 answers; the mean for every kind."""

    count: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    satisfied: int = 0
    total: int = 0

    @property
    def nps(self) -> float | None:
        if not self.count:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.count

    @property
    def nps_margin(self) -> float | None:
        if not self.count:
            return None
        p, d = self.promoters / self.count, self.detractors / self.count
        variance = (p + d - (p - d) ** 2) / self.count
        return 100.0 * 1.96 * math.sqrt(max(variance, 0.0))

    @property
    def csat(self) -> float | None:
        return 100.0 * self.satisfied / self.count if self.count else None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def share(self, part: int) -> float:
        return 100.0 * part / self.count if self.count else 0.0


def _aggregates() -> dict[str, Any]:
    return {
        "count": Count("id"),
        "promoters": Count("id", filter=Q(score__gte=9)),
        "passives": Count("id", filter=Q(score__in=(7, 8))),
        "detractors": Count("id", filter=Q(score__lte=6)),
        "satisfied": Count("id", filter=Q(score__gte=4)),
    }


def _figures(row: Any) -> Figures:
    return Figures(
        count=row["count"],
        promoters=row["promoters"],
        passives=row["passives"],
        detractors=row["detractors"],
        satisfied=row["satisfied"],
        total=int(row.get("total") or 0),
    )


@dataclass
class Report:
    overall: Figures
    distribution: list[tuple[int, int]]  # (score, answers) for every score of the scale
    by_stage_then: list[tuple[str, Figures]] = field(default_factory=list)
    by_stage_now: list[tuple[str, Figures]] = field(default_factory=list)
    by_week: list[tuple[Any, Figures]] = field(default_factory=list)


def _by_stage_now(rows: QuerySet[SurveyResponse], aggregates: dict[str, Any]) -> list[Any]:
    """Answers grouped by the stage their contact is in now (anonymous answers and
    contacts without a stage under "No stage")."""
    stage_now = ContactStage.objects.filter(
        workspace_id=OuterRef("workspace_id"), contact_id=OuterRef("contact_id")
    ).values("stage__name")[:1]
    grouped = (
        rows.annotate(stage_now=Subquery(stage_now))
        .values("stage_now")
        .annotate(**aggregates)
        .order_by("stage_now")
    )
    return [(r["stage_now"] or "No stage", _figures(r)) for r in grouped]


def survey_report(*, survey: Survey, options: list[int]) -> Report:
    """Every figure of the report page, each one GROUP BY over the counted answers."""
    rows = SurveyResponse.objects.filter(
        workspace_id=survey.workspace_id, survey=survey, is_bot=False
    )
    aggregates = {**_aggregates(), "total": Sum("score")}
    overall = _figures(rows.aggregate(**aggregates))
    counts = dict(rows.order_by().values_list("score").annotate(n=Count("id")))
    then = [
        (r["stage_name"] or "No stage", _figures(r))
        for r in rows.values("stage_name").annotate(**aggregates).order_by("stage_name")
    ]
    weeks = [
        (r["week"], _figures(r))
        for r in rows.annotate(week=TruncWeek("answered_at"))
        .values("week")
        .annotate(**aggregates)
        .order_by("week")
    ]
    return Report(
        overall=overall,
        distribution=[(score, counts.get(score, 0)) for score in options],
        by_stage_then=then,
        by_stage_now=_by_stage_now(rows, aggregates),
        by_week=weeks,
    )
