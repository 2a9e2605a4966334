"""The hosted page of a review request (a survey of kind `review`): the products (or
the order) the send asked about, each with one to five stars and a text. A plain form,
no JavaScript; the signed token (or, on the anonymous page, the visitor's cookie) is
the authority. The writes are surveys/services/reviews.py."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from config.errors import DomainError
from surveys import scales
from surveys.models import Review, SurveyResponse
from surveys.services import Entry, Item, Resolved, review_items, reviews_submit
from surveys.services.reviews import reviews_window_open

STARS = range(1, 6)


def _rating(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 3 else None


def _title(item: Item, texts: dict[str, str]) -> str:
    if item.kind == "product":
        return item.name or item.id
    return texts["review_order_id"].format(id=item.id) if item.id else texts["review_order"]


def _rows(
    items: list[Item],
    existing: dict[tuple[str, str], Review],
    posted: Any,
    default: int | None,
    texts: dict[str, str],
) -> list[dict[str, Any]]:
    rows = []
    for i, item in enumerate(items):
        review = existing.get((item.kind, item.id))
        if posted is not None:
            rating, text = _rating(posted.get(f"rating-{i}")), posted.get(f"text-{i}", "")
        else:
            rating = review.rating if review else default
            text = review.text if review else ""
        title = _title(item, texts)
        rows.append({"index": i, "title": title, "rating": rating, "text": text})
    return rows


def review_page(
    request: HttpRequest,
    resolved: Resolved,
    *,
    send_key: str,
    message_key: str | None,
    channel: str,
    action: str,
    csrf: bool = False,
) -> HttpResponse:
    survey = resolved.survey
    order_id, items = review_items(survey=survey, message_key=message_key)
    existing = {
        (r.item_kind, r.item_id): r
        for r in Review.objects.filter(
            workspace_id=survey.workspace_id, survey=survey, send_key=send_key
        )
    }
    answer = SurveyResponse.objects.filter(
        workspace_id=survey.workspace_id, survey=survey, send_key=send_key, is_bot=False
    ).first()
    context: dict[str, Any] = {
        "survey": survey,
        "workspace_name": survey.workspace.name,
        "t": scales.TEXTS.get(survey.locale, scales.TEXTS["en"]),
        "stars": [(n, scales.text(survey, "stars").format(n=n), f"{n} \u2605") for n in STARS],
        "action": action,
        "csrf": csrf,
        "saved": request.GET.get("saved") == "1" and bool(existing),
        "locked": not reviews_window_open(list(existing.values())),
    }
    status = 200
    posted = None
    if request.method == "POST" and not context["locked"]:
        posted = request.POST
        entries = [
            Entry(item, _rating(posted.get(f"rating-{i}")), str(posted.get(f"text-{i}", "")))
            for i, item in enumerate(items)
        ]
        try:
            reviews_submit(
                resolved=resolved,
                send_key=send_key,
                entries=entries,
                channel=channel,
                order_id=order_id,
            )
            return HttpResponseRedirect(f"{action}?saved=1", status=303)
        except DomainError as exc:
            context["errors"] = exc.fields or {"other": [exc.message]}
            status = exc.status
    elif request.method == "POST":
        status = 409
    default = answer.score if answer is not None else None
    context["rows"] = _rows(items, existing, posted, default, context["t"])
    return render(request, "surveys/review_page.html", context, status=status)
