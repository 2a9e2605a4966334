"""Reads of the catalogue shared by the API and the dashboard."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import Product, UnknownProduct
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
