"""Dashboard pages: the surveys list, the survey form (plain fields, never JSON or
HTML), sending a survey to segments and stages, and a survey's report."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from contacts.selectors import segments_for_workspace
from lifecycle.selectors import stages_for_workspace
from surveys import scales, selectors, services, tokens
from surveys.models import Locale, Survey, SurveyKind
from surveys.services.definitions import TEXTS
from workspaces.dashboard import WorkspaceRequest, workspace_view

COMMENTS_SHOWN = 100
DEFAULT_QUESTIONS = {
    SurveyKind.NPS: "How likely are you to recommend {} to a friend or colleague?",
    SurveyKind.CSAT: "How satisfied are you with {}?",
    SurveyKind.CES: "How easy was it to get what you needed from {}?",
    SurveyKind.REVIEW: "How would you rate what you bought from {}?",
}


def _survey_or_404(request: WorkspaceRequest, survey_id: int) -> Survey:
    survey = selectors.survey_get(workspace=request.workspace, survey_id=survey_id)
    if survey is None:
        raise Http404("No such survey.")
    return survey


@workspace_view()
def survey_list(request: WorkspaceRequest) -> HttpResponse:
    found = selectors.surveys_for_workspace(workspace=request.workspace)
    return render(request, "surveys/survey_list.html", {"surveys": found, "section": "surveys"})


def _form_values(survey: Survey | None, workspace_name: str) -> dict[str, Any]:
    if survey is None:
        return {
            "name": "",
            "kind": SurveyKind.NPS,
            "question": DEFAULT_QUESTIONS[SurveyKind.NPS].format(workspace_name),
            "scale_min": 1,
            "scale_max": 5,
            "choices": "",
            "follow_up": "What is the main reason for your score?",
            "follow_up_low": "",
            "follow_up_high": "",
            "thank_you": "",
            "locale": Locale.EN,
            "transactional": False,
        }
    values: dict[str, Any] = {field: getattr(survey, field) for field in TEXTS}
    values.update(
        kind=survey.kind,
        scale_min=survey.scale_min,
        scale_max=survey.scale_max,
        choices="\n".join(survey.choices),
        locale=survey.locale,
        transactional=survey.transactional,
    )
    return values


def _posted(request: WorkspaceRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the form shows again, and the service's data (choices one per line)."""
    post = request.POST
    values: dict[str, Any] = {field: post.get(field, "") for field in TEXTS}
    values.update(
        kind=post.get("kind", ""),
        scale_min=post.get("scale_min", "1"),
        scale_max=post.get("scale_max", "5"),
        choices=post.get("choices", ""),
        locale=post.get("locale", Locale.EN),
        transactional=post.get("transactional") == "on",
    )
    data = dict(values)
    data["choices"] = [line for line in values["choices"].splitlines() if line.strip()]
    if values["kind"] != SurveyKind.SCALE:
        data.pop("scale_min")
        data.pop("scale_max")
    if values["kind"] != SurveyKind.CHOICE:
        data.pop("choices")
    return values, data


@workspace_view()
def survey_edit(request: WorkspaceRequest, survey_id: int | None = None) -> HttpResponse:
    survey = _survey_or_404(request, survey_id) if survey_id is not None else None
    values = _form_values(survey, request.workspace.name)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values, data = _posted(request)
        try:
            if survey is None:
                survey = services.survey_create(
                    workspace=request.workspace, data=data, actor=request.actor
                )
            else:
                survey = services.survey_update(survey=survey, data=data, actor=request.actor)
            messages.success(request, f"Survey “{survey.name}” saved.")
            return redirect(
                "surveys:survey-report", slug=request.workspace.slug, survey_id=survey.pk
            )
        except DomainError as exc:
            errors = exc.fields or {"name": [exc.message]}
    defaults = {
        kind.value: question.format(request.workspace.name)
        for kind, question in DEFAULT_QUESTIONS.items()
    }
    return render(
        request,
        "surveys/survey_edit.html",
        {
            "survey": survey,
            "values": values,
            "errors": errors,
            "kinds": SurveyKind.choices,
            "locales": Locale.choices,
            "default_questions": defaults,
            "section": "surveys",
        },
    )


@workspace_view()
def survey_send(request: WorkspaceRequest, survey_id: int) -> HttpResponse:
    survey = _survey_or_404(request, survey_id)
    values: dict[str, Any] = {
        "channel": "email",
        "subject": survey.question[:200],
        "intro": "Hi {{ first_name }}, one quick question:",
        "include_segment_ids": [],
        "include_stage_ids": [],
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {
            "channel": request.POST.get("channel", "email"),
            "subject": request.POST.get("subject", ""),
            "intro": request.POST.get("intro", ""),
            "include_segment_ids": request.POST.getlist("include_segment_ids"),
            "include_stage_ids": request.POST.getlist("include_stage_ids"),
        }
        try:
            sent = services.survey_send(survey=survey, data=values, actor=request.actor)
            messages.success(request, f"Survey “{survey.name}” is being sent.")
            return redirect(
                "campaigns:broadcast-edit",
                slug=request.workspace.slug,
                broadcast_id=sent.broadcast_id,
            )
        except DomainError as exc:
            errors = exc.fields or {"include_segment_ids": [exc.message]}
    return render(
        request,
        "surveys/survey_send.html",
        {
            "survey": survey,
            "values": values,
            "chosen_segments": {str(v) for v in values["include_segment_ids"]},
            "chosen_stages": {str(v) for v in values["include_stage_ids"]},
            "errors": errors,
            "segments": segments_for_workspace(workspace=request.workspace),
            "stages": stages_for_workspace(workspace=request.workspace),
            "section": "surveys",
        },
    )


@workspace_view()
def survey_report(request: WorkspaceRequest, survey_id: int) -> HttpResponse:
    survey = _survey_or_404(request, survey_id)
    options = scales.options(survey)
    report = selectors.survey_report(survey=survey, options=[o.score for o in options])
    labels = {o.score: o.label for o in options}
    peak = max((n for _, n in report.distribution), default=0) or 1
    distribution = [
        {
            "score": score,
            "label": labels.get(score, str(score)),
            "count": n,
            "share": report.overall.share(n),
            "width": round(100 * n / peak),
            "category": scales.category(survey.kind, score),
        }
        for score, n in report.distribution
    ]
    comments = selectors.responses_for_survey(survey=survey).exclude(comment="")[:COMMENTS_SHOWN]
    return render(
        request,
        "surveys/survey_report.html",
        {
            "survey": survey,
            "report": report,
            "distribution": distribution,
            "labels": labels,
            "comments": comments,
            "is_nps": survey.kind == SurveyKind.NPS,
            "is_csat": survey.kind == SurveyKind.CSAT,
            "open_url": tokens.open_url(survey.pk, workspace_id=survey.workspace_id),
            "section": "surveys",
        },
    )


@require_POST
@workspace_view()
def survey_delete(request: WorkspaceRequest, survey_id: int) -> HttpResponse:
    survey = _survey_or_404(request, survey_id)
    services.survey_delete(survey=survey, actor=request.actor)
    messages.success(request, f"Survey “{survey.name}” deleted.")
    return redirect("surveys:surveys", slug=request.workspace.slug)
