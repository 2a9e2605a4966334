"""A survey's report in the dashboard: NPS (with its 95% interval), CSAT or the mean for
a period, the trend per day, week or month and the distribution of scores (ECharts),
per stage when answering, response rate per channel, per journey, and the comments with
their score, category and stage, filterable and downloadable as CSV. Every figure comes
from `analytics.figures.surveys` (the survey rollups)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from analytics.figures.surveys import (
    SCORE_CATEGORIES,
    parse_category,
    parse_survey_query,
    score_category,
    survey_comments,
    survey_stage_names,
)
from analytics.report_cache import survey_figures
from config.errors import DomainError
from config.spreadsheet import csv_writer
from contacts.selectors import segments_for_workspace
from surveys.models import Survey, SurveyKind
from surveys.selectors import survey_get
from workspaces.dashboard import WorkspaceRequest, workspace_view

COMMENTS_SHOWN = 50
CSV_COMMENTS = 100_000
CSV_COLUMNS = ("answered_at", "score", "category", "stage", "channel", "contact_id", "comment")
FIELDS = ("start", "end", "granularity", "stage", "segment", "category")


def _headline(kind: str) -> tuple[str, str]:
    """The figure the trend draws: its key in the results and its label."""
    if kind == SurveyKind.NPS:
        return "nps", "NPS"
    if kind == SurveyKind.CSAT:
        return "csat", "CSAT (% 4-5)"
    return "mean", "Average score"


def _comments_csv(survey: Survey, rows: Any, workspace_slug: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{workspace_slug}-survey-{survey.pk}-comments.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv_writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in rows[:CSV_COMMENTS]:
        writer.writerow(
            [
                row.answered_at.isoformat(),
                row.score,
                score_category(survey.kind, row.score),
                row.stage_name,
                row.channel,
                row.contact_id,
                row.comment,
            ]
        )
    return response


def _chart_data(survey: Survey, data: dict[str, Any]) -> dict[str, Any]:
    key, label = _headline(survey.kind)
    return {
        "headline": label,
        "kind": survey.kind,
        "trend": [
            {
                "bucket": t["bucket"],
                "answers": t["answers"],
                "value": t[key],
                "low": t["nps_low"],
                "high": t["nps_high"],
            }
            for t in data["trend"]
        ],
        "distribution": [
            {"label": d["label"] or str(d["score"]), "score": d["score"], "answers": d["answers"]}
            for d in data["distribution"]
        ],
        "categories": {
            str(score): score_category(survey.kind, score)
            for score in (d["score"] for d in data["distribution"])
        },
    }


@workspace_view()
def survey_report(request: WorkspaceRequest, survey_id: int) -> HttpResponse:
    survey = survey_get(workspace=request.workspace, survey_id=survey_id)
    if survey is None:
        raise Http404("No such survey.")
    values = {key: request.GET.get(key, "") for key in FIELDS}
    context: dict[str, Any] = {
        "survey": survey,
        "values": values,
        "segments": list(segments_for_workspace(workspace=request.workspace)),
        "stages": survey_stage_names(workspace=request.workspace, survey=survey),
        "categories": list(SCORE_CATEGORIES.get(survey.kind, {})),
        "headline": _headline(survey.kind)[1],
        "section": "surveys",
        "errors": {},
    }
    try:
        query = parse_survey_query(request.GET, workspace=request.workspace, survey=survey)
        category = parse_category(request.GET)
    except DomainError as exc:
        context |= {"error": exc.message, "errors": exc.fields}
        return render(request, "analytics/survey_report.html", context, status=400)
    comments = survey_comments(query, category=category)
    if request.GET.get("download") == "comments":
        return _comments_csv(survey, comments, request.workspace.slug)
    data = survey_figures(query)
    values |= {
        "start": query.period.start.isoformat(),
        "end": query.period.end.isoformat(),
        "granularity": query.granularity,
    }
    params = request.GET.copy()
    without_segment = request.GET.copy()
    without_segment.pop("segment", None)
    without_segment.pop("download", None)
    params["download"] = "comments"
    context |= {
        "data": data,
        "query": query,
        "computed_at": parse_datetime(data["computed_at"]),
        "chart": _chart_data(survey, data),
        "comments": [
            (row, score_category(survey.kind, row.score))
            for row in comments.select_related(None)[:COMMENTS_SHOWN]
        ],
        "csv_query": params.urlencode(),
        "segment_query": without_segment.urlencode(),
        "is_nps": survey.kind == SurveyKind.NPS,
        "is_csat": survey.kind == SurveyKind.CSAT,
    }
    return render(request, "analytics/survey_report.html", context)
