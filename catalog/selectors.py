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
from workspaces.models import Workspace


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
