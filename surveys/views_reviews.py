"""The dashboard's review moderation: the list (pending first, filtered by status,
survey, product and rating), approve and reject per review by htmx (the row is
swapped in place and the tabs' counts out of band; without JavaScript the form posts
and the page reloads), and the
CSV export of what the filters show."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_POST

from config.errors import DomainError
from surveys.models import ReviewStatus, Survey
from surveys.selectors_reviews import (
    ReviewFilters,
    review_get,
    review_status_counts,
    reviews_csv_lines,
    reviews_for_workspace,
)
from surveys.services.reviews import MODERATION, review_moderate
from workspaces.dashboard import WorkspaceRequest, workspace_view

SHOWN = 200


def _filters(request: WorkspaceRequest) -> ReviewFilters:
    params = request.GET
    status = params.get("status", ReviewStatus.PENDING)
    survey = params.get("survey", "")
    rating = params.get("rating", "")
    return ReviewFilters(
        status=status if status in ReviewStatus.values else None,
        survey_id=int(survey) if re.fullmatch(r"\d{1,18}", survey) else None,
        product=params.get("product", "").strip()[:200] or None,
        rating=int(rating) if rating in ("1", "2", "3", "4", "5") else None,
    )


@workspace_view()
def review_list(request: WorkspaceRequest) -> HttpResponse:
    filters = _filters(request)
    counts = review_status_counts(workspace=request.workspace)
    rows = list(reviews_for_workspace(workspace=request.workspace, filters=filters)[: SHOWN + 1])
    return render(
        request,
        "surveys/review_list.html",
        {
            "reviews": rows[:SHOWN],
            "more": len(rows) > SHOWN,
            "filters": filters,
            "status_param": request.GET.get("status", ReviewStatus.PENDING),
            "tabs": [(value, label, counts[value]) for value, label in ReviewStatus.choices],
            "surveys": Survey.objects.filter(workspace=request.workspace, kind="review").order_by(
                "name"
            ),
            "query": request.GET.urlencode(),
            "widget": _widget_snippet(request),
        },
    )


def _widget_snippet(request: WorkspaceRequest) -> dict[str, str]:
    """The embed code for the business's site: the script by its unhashed name (a
    pasted snippet must survive deploys) on this host, and the element it fills."""
    script = request.build_absolute_uri(f"{settings.STATIC_URL}js/review-widget.js")
    product = _filters(request).product or ""
    element = f'<div data-stagecraft-reviews="{request.workspace.slug}"'
    element += f' data-product="{escape(product)}"' if product else ""
    element += ' data-limit="5"></div>'
    return {
        "code": f'{element}\n<script src="{script}" async></script>',
        "product": product,
        "data_url": request.build_absolute_uri(
            reverse("surveys_public:widget-reviews", args=[request.workspace.slug])
        ),
    }


@require_POST
@workspace_view()
def review_moderation(request: WorkspaceRequest, review_id: int, action: str) -> HttpResponse:
    review = review_get(workspace=request.workspace, review_id=review_id)
    if review is None or action not in MODERATION:
        raise Http404("No such review.")
    try:
        review = review_moderate(review=review, status=MODERATION[action], actor=request.actor)
    except DomainError as exc:
        messages.error(request, exc.message)
    if request.headers.get("HX-Request"):
        # The row in place, and the tabs' counts out of band.
        counts = review_status_counts(workspace=request.workspace)
        return render(
            request,
            "surveys/_review_moderated.html",
            {"review": review, "counts": list(counts.items())},
        )
    messages.success(request, f"Review {review.get_status_display().lower()}.")
    return redirect("surveys:reviews", slug=request.workspace.slug)


@workspace_view()
def review_export(request: WorkspaceRequest) -> StreamingHttpResponse:
    queryset = reviews_for_workspace(workspace=request.workspace, filters=_filters(request))
    response = StreamingHttpResponse(
        reviews_csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="reviews.csv"'
    return response
