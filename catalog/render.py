"""The names the catalogue's blocks use in a message template (registered with
messaging's `register_context_provider`): `product_<id>`, `recs_<kind>_<n>`, `cart`
and `top_pick` (the contact's first recommendation, for an SMS link). Only what the
template names is loaded.

When a real message is rendered (a message id), what it showed is recorded in
`catalog_messageproduct` (message, product, kind, address), so clicks on those
addresses and purchases of those products can be attributed to the message and the
kind (catalog/attribution.py). A preview records nothing."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils import timezone

from catalog.models import MessageProduct, Product
from catalog.recommendations import recommendations_for_contact
from catalog.selectors import popular_products, viewed_products
from contacts.models import Contact, Event
from messaging.models import Template
from workspaces.models import Workspace

PRODUCT = re.compile(r"\bproduct_(\d{1,18})\b")
RECS = re.compile(r"\brecs_(for_you|popular|viewed)_([1-8])\b")
CART = re.compile(r"\bcart\.items\b")
# An SMS's link to the contact's first recommendation (the SMS editor inserts it).
TOP_PICK = re.compile(r"\btop_pick\b")
CART_EVENTS = ("cart_abandoned", "added_to_cart")
KIND_PRODUCT = "product"
KIND_CART = "cart"
KIND_VIEWED = "viewed"


def _price(price: Decimal | None, currency: str, workspace: Workspace) -> str:
    if price is None:
        return ""
    return f"{price:.2f} {currency or workspace.currency}"


def product_data(product: Product, workspace: Workspace) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "title": product.title,
        "url": product.url,
        "image_url": product.image_url,
        "price": _price(product.price, product.currency, workspace),
        "in_stock": product.in_stock,
    }


def _cart(workspace: Workspace, contact: Contact) -> tuple[dict[str, Any], list[Product]]:
    """The items of the contact's latest cart event (the abandoned cart a journey
    triggered by `cart_abandoned` was started by), with the catalogue's title, image
    and address for the items it holds."""
    event = (
        Event.objects.filter(workspace=workspace, contact=contact, name__in=CART_EVENTS)
        .order_by("-occurred_at", "-id")
        .first()
    )
    raw = (event.properties or {}).get("items") if event is not None else None
    lines = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
    ids = [str(i.get("product_id", "")).strip() for i in lines]
    held = {
        p.product_id: p for p in Product.objects.filter(workspace=workspace, product_id__in=ids)
    }
    items = []
    for line, pid in zip(lines, ids, strict=True):
        product = held.get(pid)
        data = product_data(product, workspace) if product else {"product_id": pid, "title": pid}
        data["quantity"] = line.get("quantity", 1)
        if line.get("price") is not None:
            data["price"] = _price(Decimal(str(line["price"])), "", workspace)
        items.append(data)
    return {"items": items}, list(held.values())


def catalog_context(
    workspace: Workspace, contact: Contact | None, message_id: int | None, template: Template | None
) -> dict[str, Any]:
    if template is None:
        return {}
    text = " ".join((template.subject, template.body, template.text_body))
    out: dict[str, Any] = {}
    shown: list[tuple[Product, str]] = []
    pks = {int(m) for m in PRODUCT.findall(text)}
    if pks:
        for product in Product.objects.filter(workspace=workspace, pk__in=pks, active=True):
            out[f"product_{product.pk}"] = product_data(product, workspace)
            shown.append((product, KIND_PRODUCT))
    for kind, count in set(RECS.findall(text)):
        n = int(count)
        if kind == "for_you" and contact is not None:
            recs = [(r.product, r.kind) for r in recommendations_for_contact(contact=contact, n=n)]
        elif kind == KIND_VIEWED and contact is not None:
            viewed = viewed_products(workspace=workspace, contact=contact, n=n)
            recs = [(p, KIND_VIEWED) for p in viewed]
        else:
            recs = [(p, "popular") for p in popular_products(workspace=workspace, n=n)]
        out[f"recs_{kind}_{count}"] = [product_data(p, workspace) for p, _ in recs]
        shown += recs
    if TOP_PICK.search(text):
        if contact is not None:
            top = [(r.product, r.kind) for r in recommendations_for_contact(contact=contact, n=1)]
        else:
            top = [(p, "popular") for p in popular_products(workspace=workspace, n=1)]
        out["top_pick"] = product_data(top[0][0], workspace) if top else {}
        shown += top
    if CART.search(text) and contact is not None:
        out["cart"], held = _cart(workspace, contact)
        shown += [(p, KIND_CART) for p in held]
    if message_id is not None and shown:
        _record(workspace, message_id, shown)
    return out


def _record(workspace: Workspace, message_id: int, shown: list[tuple[Product, str]]) -> None:
    """What the message showed; a message rendered again records nothing twice."""
    now = timezone.now()
    MessageProduct.objects.bulk_create(
        [
            MessageProduct(
                workspace=workspace,
                message_id=message_id,
                product=p,
                kind=k,
                url=p.url,
                shown_at=now,
            )
            for p, k in shown
        ],
        ignore_conflicts=True,
    )
