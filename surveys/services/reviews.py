"""Review requests and reviews (docs/surveys.md, Reviews).

A review request is a survey of kind `review`: its message carries a one-tap row of
stars (the overall rating, recorded like any answer) and a link to the hosted page,
which lists the products (or the order) the send named, each with stars and a text.

1. What is reviewed comes with the send: the API's ask names an order and products;
   a journey's "send survey" step takes them from the event that let the contact in
   (a purchase's `order_id` and `items`). `review_request_record` keeps them, keyed by
   the asking message's idempotency key, for the hosted page.
2. The page's form (a deliberate POST) writes one `Review` per item rated, pending
   moderation, and the overall answer (the rounded mean of the ratings) if the stars in
   the message were not tapped. An edit within the change window replaces the review
   and puts it back to pending; after the window the reviews are locked.
3. A member approves or rejects each review (`review_moderate`: a conditional update,
   audited); approved reviews are what the API lists for the business's site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import Conflict, InvalidInput, field_errors
from surveys.models import ItemKind, Review, ReviewRequest, ReviewStatus, Survey, SurveyKind
from surveys.services.answers import MAX_COMMENT, Resolved, answer_submit, change_window
from workspaces.services import Actor, audit_record

MAX_ITEMS = 20
MAX_ID = 200
MAX_NAME = 300
ITEM_LISTS = ("items", "products", "line_items")
ITEM_IDS = ("product_id", "sku", "id")
ITEM_NAMES = ("name", "title", "product_name")


@dataclass(frozen=True)
class Item:
    """One thing to review: a product (its id and name) or the order."""

    kind: str
    id: str
    name: str


def _short(value: Any, limit: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).replace("\x00", "").strip()[:limit]


def _first(node: dict[str, Any], keys: Sequence[str], limit: int) -> str:
    return next((v for v in (_short(node.get(k), limit) for k in keys) if v), "")


def items_from_properties(properties: Any) -> tuple[str, list[dict[str, str]]]:
    """The order id and the products an event's properties name (a purchase event:
    `order_id`, and `items` / `products` / `line_items` of {product_id|sku|id,
    name|title}, or a single `product_id` and `product_name`). Anything else is left
    out, never refused: the event was accepted when it came in."""
    if not isinstance(properties, dict):
        return "", []
    order_id = _first(properties, ("order_id", "order"), MAX_ID)
    listed: list[Any] = next(
        (properties[k] for k in ITEM_LISTS if isinstance(properties.get(k), list)), []
    )
    if not listed and properties.get("product_id") is not None:
        listed = [properties]
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for node in listed:
        if not isinstance(node, dict):
            continue
        item_id = _first(node, ITEM_IDS, MAX_ID)
        if item_id and item_id not in seen and len(items) < MAX_ITEMS:
            seen.add(item_id)
            items.append({"id": item_id, "name": _first(node, ITEM_NAMES, MAX_NAME)})
    return order_id, items


def items_check(order_id: Any, items: Any) -> tuple[str, list[dict[str, str]]]:
    """The API's `order_id` and `items` ([{"id", "name"}]), refused by field when bad."""
    errors: dict[str, list[str]] = {}
    if not isinstance(order_id, str) or len(order_id) > MAX_ID:
        errors["order_id"] = [f"must be text of at most {MAX_ID} characters"]
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        errors["items"] = [f"must be a list of at most {MAX_ITEMS} products"]
    for i, node in enumerate(items if isinstance(items, list) else []):
        if not isinstance(node, dict) or set(node) - {"id", "name"}:
            errors[f"items[{i}]"] = ['must be {"id": ..., "name": ...}']
        elif not isinstance(node.get("id"), str) or not 0 < len(node["id"].strip()) <= MAX_ID:
            errors[f"items[{i}].id"] = [f"must be 1-{MAX_ID} characters"]
        elif not isinstance(node.get("name", ""), str) or len(node.get("name", "")) > MAX_NAME:
            errors[f"items[{i}].name"] = [f"must be text of at most {MAX_NAME} characters"]
    if errors:
        raise field_errors(errors)
    return items_from_properties({"order_id": order_id, "items": items})


def review_requests_record(
    *, survey: Survey, rows: Sequence[tuple[int, str, str, list[dict[str, str]]]]
) -> int:
    """Keep what each asking message asks about: (contact id, message key, order id,
    items) rows. A message asked again (a retried step, the same idempotency key)
    keeps what it had."""
    if survey.kind != SurveyKind.REVIEW or not rows:
        return 0
    created = ReviewRequest.objects.bulk_create(
        [
            ReviewRequest(
                workspace_id=survey.workspace_id,
                survey=survey,
                contact_id=contact_id,
                message_key=key,
                order_id=order_id,
                items=items,
            )
            for contact_id, key, order_id, items in rows
        ],
        ignore_conflicts=True,
    )
    return len(created)


def review_items(*, survey: Survey, message_key: str | None) -> tuple[str, list[Item]]:
    """The order id and what the hosted page asks about: the products the send named,
    else its order (or "your order" when it named none)."""
    request = (
        ReviewRequest.objects.filter(workspace_id=survey.workspace_id, message_key=message_key)
        .only("order_id", "items")
        .first()
        if message_key
        else None
    )
    order_id = request.order_id if request else ""
    products = [
        Item(ItemKind.PRODUCT, str(i.get("id", "")), str(i.get("name", "")))
        for i in (request.items if request else [])
        if isinstance(i, dict) and i.get("id")
    ]
    return order_id, products or [Item(ItemKind.ORDER, order_id, "")]


@dataclass(frozen=True)
class Entry:
    """What the form says about one item: its rating (None: not rated) and text."""

    item: Item
    rating: int | None
    text: str


def _check(entries: Sequence[Entry]) -> None:
    errors: dict[str, list[str]] = {}
    for i, entry in enumerate(entries):
        if entry.rating is not None and not 1 <= entry.rating <= 5:
            errors[f"rating-{i}"] = ["must be from 1 to 5 stars"]
        if len(entry.text) > MAX_COMMENT:
            errors[f"text-{i}"] = [f"at most {MAX_COMMENT} characters"]
        if entry.rating is None and entry.text.strip():
            errors[f"rating-{i}"] = ["choose the stars for your review"]
    if not errors and not any(e.rating is not None for e in entries):
        errors["rating-0"] = ["choose the stars of at least one item"]
    if errors:
        first = next(iter(errors))
        raise InvalidInput(f"{first}: {errors[first][0]}", fields=errors)


@transaction.atomic
def reviews_submit(
    *, resolved: Resolved, send_key: str, entries: Sequence[Entry], channel: str, order_id: str
) -> list[Review]:
    """The hosted page's reviews (step 2 of the module docstring): one per item rated,
    pending moderation; Conflict once the change window of the first is over."""
    _check(entries)
    survey, contact = resolved.survey, resolved.contact
    now = timezone.now()
    existing = {
        (r.item_kind, r.item_id): r
        for r in Review.objects.select_for_update().filter(
            workspace_id=survey.workspace_id, survey=survey, send_key=send_key
        )
    }
    first = min((r.created_at for r in existing.values()), default=now)
    if now - first > change_window():
        raise Conflict("These reviews were sent and can no longer be changed.")
    saved = []
    for entry in entries:
        if entry.rating is None:
            continue
        row = existing.get((entry.item.kind, entry.item.id)) or Review(
            workspace_id=survey.workspace_id,
            survey=survey,
            contact=contact,
            send_key=send_key,
            item_kind=entry.item.kind,
            item_id=entry.item.id,
            created_at=now,
        )
        row.item_name, row.order_id = entry.item.name, order_id
        row.rating, row.text = entry.rating, entry.text.strip().replace("\x00", "")
        row.author = contact.first_name[:200] if contact is not None else ""
        row.status, row.moderated_at, row.moderated_by = ReviewStatus.PENDING, None, ""
        row.updated_at = now
        row.full_clean(validate_unique=False, validate_constraints=False)
        row.save()
        saved.append(row)
    ratings = [e.rating for e in entries if e.rating is not None]
    answer_submit(
        resolved=resolved,
        send_key=send_key,
        score=max(1, min(5, int(sum(ratings) / len(ratings) + 0.5))),
        comment=None,
        channel=channel,
    )
    return saved


MODERATION = {"approve": ReviewStatus.APPROVED, "reject": ReviewStatus.REJECTED}


@transaction.atomic
def review_moderate(*, review: Review, status: str, actor: Actor) -> Review:
    """Approve or reject a review. The same decision twice is harmless; the row is
    changed by one conditional update and the decision audited."""
    if status not in (ReviewStatus.APPROVED, ReviewStatus.REJECTED):
        raise field_errors({"status": ["one of approved, rejected"]})
    now = timezone.now()
    changed = (
        Review.objects.filter(pk=review.pk, workspace_id=review.workspace_id)
        .filter(~Q(status=status))
        .update(status=status, moderated_at=now, moderated_by=actor.label[:200])
    )
    review.refresh_from_db()
    if changed:
        audit_record(
            workspace=review.workspace,
            action=f"review.{status}",
            actor=actor,
            object_type="review",
            object_id=review.pk,
            details={"survey_id": review.survey_id, "item_id": review.item_id},
        )
    return review


def reviews_window_open(reviews: Sequence[Review], now: dt.datetime | None = None) -> bool:
    """Whether reviews already sent for a send may still be changed."""
    if not reviews:
        return True
    first = min(r.created_at for r in reviews)
    return (now or timezone.now()) - first <= change_window()
