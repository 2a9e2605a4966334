"""The product picker's search (the email editor's Product block, the SMS editor's
product link): JSON of at most `SEARCH_MAX` active products of the request's
workspace whose title or id contains the words typed, by title; or, with `ids`, the
labels of products already chosen (so a saved block shows its product's name). The
editor puts every value in the page with textContent, never as HTML."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpResponse, JsonResponse

from catalog import selectors
from catalog.models import Product
from catalog.render import product_data
from workspaces.dashboard import WorkspaceRequest, workspace_view

SEARCH_MAX = 20
IDS_MAX = 50
IDS_RE = re.compile(rf"\d{{1,18}}(,\d{{1,18}}){{0,{IDS_MAX - 1}}}")


def _result(product: Product, request: WorkspaceRequest) -> dict[str, Any]:
    data = product_data(product, request.workspace)
    return {
        "id": product.pk,
        "label": f"{product.title} ({product.product_id})",
        "title": product.title,
        "product_id": product.product_id,
        "price": data["price"],
        "image_url": product.image_url,
        "in_stock": product.in_stock,
    }


@workspace_view()
def product_search(request: WorkspaceRequest) -> HttpResponse:
    ids_text = request.GET.get("ids", "")
    if ids_text:
        if not IDS_RE.fullmatch(ids_text):
            return JsonResponse(
                {"errors": {"ids": [f"at most {IDS_MAX} product numbers, comma-separated"]}},
                status=400,
            )
        found = Product.objects.filter(
            workspace=request.workspace, pk__in=[int(i) for i in ids_text.split(",")]
        ).order_by("title", "product_id")
    else:
        q = request.GET.get("q", "").strip()[:200]
        found = selectors.products_search(workspace=request.workspace, q=q, active=True).order_by(
            "title", "product_id"
        )[:SEARCH_MAX]
    return JsonResponse({"results": [_result(p, request) for p in found]})
