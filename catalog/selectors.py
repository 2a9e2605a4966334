"""Reads of the catalogue shared by the API and the dashboard."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet

from catalog.models import (
    Product,
    ProductFeed,
    ProductFeedRun,
    ProductPopularity,
    UnknownProduct,
)
from contacts.models import Contact, Event
from workspaces.models import Workspace

# How many of a contact's latest views "Products they looked at" reads, and how far back.
VIEWED_EVENTS_MAX = 50
VIEWED_DAYS = 7


def product_get(*, workspace: Workspace, product_id: str) -> Product | None:
    return Product.objects.filter(workspace=workspace, product_id=product_id).first()


def products_search(
    *,
    workspace: Workspace,
    q: str = "",
    category: str | None = None,
    brand: str | None = None,
    in_stock: bool | None = None,
    active: bool | None = None,
    updated_since: dt.datetime | None = None,
) -> QuerySet[Product]:
    products = Product.objects.filter(workspace=workspace)
    if q:
        products = products.filter(Q(title__icontains=q) | Q(product_id__icontains=q))
    if category:
        products = products.filter(categories__contains=[category])
    if brand:
        products = products.filter(brand__iexact=brand)
    if in_stock is not None:
        products = products.filter(in_stock=in_stock)
    if active is not None:
        products = products.filter(active=active)
    if updated_since is not None:
        products = products.filter(updated_at__gte=updated_since)
    return products


def unknown_products(*, workspace: Workspace) -> QuerySet[UnknownProduct]:
    """Product ids events named that the catalogue does not hold now."""
    held = Product.objects.filter(workspace=workspace, product_id=OuterRef("product_id"))
    return UnknownProduct.objects.filter(workspace=workspace).exclude(Exists(held))


def categories_for_workspace(*, workspace: Workspace, limit: int = 200) -> list[str]:
    """The categories the workspace's products name, for the dashboard's filter."""
    rows = (
        Product.objects.filter(workspace=workspace)
        .annotate(category=Func(F("categories"), function="unnest"))
        .values_list("category", flat=True)
        .distinct()
        .order_by("category")[:limit]
    )
    return list(rows)


def feed_get(*, workspace: Workspace) -> ProductFeed | None:
    return ProductFeed.objects.filter(workspace=workspace).first()


def feed_runs(*, workspace: Workspace, limit: int = 20) -> QuerySet[ProductFeedRun]:
    return ProductFeedRun.objects.filter(workspace=workspace).order_by("-started_at")[:limit]


def popular_products(*, workspace: Workspace, n: int) -> list[Product]:
    """The most bought offerable products (active, in stock), as of the last compute:
    what a recommendations block shows a contact without history, or in a preview."""
    rows = (
        ProductPopularity.objects.filter(
            workspace=workspace, product__active=True, product__in_stock=True
        )
        .select_related("product")
        .order_by("-buyers", "product_id")[:n]
    )
    return [row.product for row in rows]


def viewed_products(*, workspace: Workspace, contact: Contact, n: int) -> list[Product]:
    """The distinct products the contact looked at (`product_viewed`) lately, latest
    first: the active, in-stock ones the catalogue holds, from their last
    `VIEWED_EVENTS_MAX` views in `VIEWED_DAYS` days (the browse-abandonment message's
    "the products you looked at"). Read through the contact/name/time event index."""
    since = dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=VIEWED_DAYS)
    ids = (
        Event.objects.filter(
            workspace=workspace, contact=contact, name="product_viewed", occurred_at__gte=since
        )
        .order_by("-occurred_at", "-id")
        .values_list("properties__product_id", flat=True)[:VIEWED_EVENTS_MAX]
    )
    order: list[str] = []
    for value in ids:
        sku = str(value).strip() if isinstance(value, str | int) else ""
        if sku and sku not in order:
            order.append(sku)
    held = {
        p.product_id: p
        for p in Product.objects.filter(
            workspace=workspace, product_id__in=order, active=True, in_stock=True
        )
    }
    return [held[sku] for sku in order if sku in held][:n]
