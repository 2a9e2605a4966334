"""The review widget's data: a workspace's approved reviews for a business's own site
(`static/js/review-widget.js` renders them; the snippet is on the reviews page).

`GET /widget/reviews/<workspace slug>/?product=SKU-1&limit=10` answers JSON — the count
and average of the approved reviews of that product (of every item without `product`)
and the newest `limit` of them: rating, text, author's first name, item name, date. No
login (the reviews were approved to be shown), any origin may read it (CORS `*`, no
credentials), browsers and CDNs may keep it 5 minutes, the server keeps each answer 60
seconds, and each client address may ask REVIEW_WIDGET_RATE_PER_MINUTE times a minute
(a 429 with Retry-After). A bad parameter is a 400 naming it; an unknown workspace a
404. Nothing here is HTML: the script sets every value as text."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from surveys.models import Review, ReviewStatus
from workspaces.login_throttle import client_ip
from workspaces.models import Workspace

MAX_LIMIT = 50
SERVER_SECONDS = 60
BROWSER_SECONDS = 300


def _limited(request: HttpRequest) -> bool:
    key = f"surveys:widget-rate:{client_ip(request)}"
    cache.add(key, 0, timeout=60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        used = 1
    return int(used) > settings.REVIEW_WIDGET_RATE_PER_MINUTE


def _json(body: dict[str, Any], status: int = 200, seconds: int = 0) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = f"public, max-age={seconds}" if seconds else "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _error(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The API's error shape (config/errors.py)."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _params(request: HttpRequest) -> tuple[str, int, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    product = request.GET.get("product", "").strip()
    if len(product) > 200 or "\x00" in product:
        errors["product"] = ["a product or order id: at most 200 characters"]
    raw = request.GET.get("limit", "10")
    limit = int(raw) if raw.isdigit() and len(raw) <= 3 else 0
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = [f"a whole number from 1 to {MAX_LIMIT}"]
    return product, limit, errors


def _reviews(workspace: Workspace, product: str, limit: int) -> dict[str, Any]:
    rows = Review.objects.filter(workspace=workspace, status=ReviewStatus.APPROVED)
    if product:
        rows = rows.filter(item_id=product)
    summary = rows.aggregate(count=Count("pk"), average=Avg("rating"))
    newest = rows.order_by("-id").values("rating", "text", "author", "item_name", "created_at")
    return {
        "workspace": workspace.name,
        "product": product or None,
        "count": summary["count"],
        "average": None if summary["average"] is None else round(float(summary["average"]), 2),
        "reviews": [
            {
                "rating": row["rating"],
                "text": row["text"],
                "author": row["author"],
                "item_name": row["item_name"],
                "date": row["created_at"].date().isoformat(),
            }
            for row in newest[:limit]
        ],
    }


@require_GET
def widget_reviews(request: HttpRequest, slug: str) -> JsonResponse:
    if _limited(request):
        response = _json(
            _error("throttled", "Too many requests. Please try again in a minute."), 429
        )
        response["Retry-After"] = "60"
        return response
    product, limit, errors = _params(request)
    if errors:
        return _json(_error("invalid", "Invalid parameters.", errors), 400)
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        return _json(_error("not_found", "No such workspace."), 404)
    key = f"surveys:widget:{workspace.pk}:{limit}:{product}"
    body = cache.get(key)
    if body is None:
        body = _reviews(workspace, product, limit)
        cache.set(key, body, SERVER_SECONDS)
    return _json(body, seconds=BROWSER_SECONDS)
