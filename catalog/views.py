"""Dashboard pages of the catalogue: products (search and filters), one product, the
product ids events named that the catalogue lacks, and the feed's settings with its
runs. Products are written by the API, the CSV import and the feed, not by hand."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from catalog import selectors, services, tasks
from catalog.models import FeedFormat
from config.errors import InvalidInput
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.services import Actor

PAGE_SIZE = 50
_FLAGS = {"yes": True, "no": False}


@workspace_view()
def product_list(request: WorkspaceRequest) -> HttpResponse:
    get = request.GET
    filters = {
        "q": get.get("q", "").strip()[:200],
        "category": get.get("category", "")[:200],
        "in_stock": get.get("in_stock", "") if get.get("in_stock") in _FLAGS else "",
        "active": get.get("active", "yes") if get.get("active", "yes") in _FLAGS else "",
    }
    found = selectors.products_search(
        workspace=request.workspace,
        q=filters["q"],
        category=filters["category"] or None,
        in_stock=_FLAGS.get(filters["in_stock"]),
        active=_FLAGS.get(filters["active"]),
    ).order_by("title", "product_id")
    page = Paginator(found, PAGE_SIZE).get_page(get.get("page"))
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "catalog/product_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "categories": selectors.categories_for_workspace(workspace=request.workspace),
            "unknown_count": selectors.unknown_products(workspace=request.workspace).count(),
            "section": "products",
        },
    )


@workspace_view()
def product_detail(request: WorkspaceRequest, product_id: str) -> HttpResponse:
    product = selectors.product_get(workspace=request.workspace, product_id=product_id)
    if product is None:
        raise Http404("No such product.")
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "attributes": sorted(product.attributes.items()),
            "section": "products",
        },
    )


@workspace_view()
def unknown_list(request: WorkspaceRequest) -> HttpResponse:
    found = selectors.unknown_products(workspace=request.workspace).order_by(
        "-last_seen_at", "product_id"
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/unknown_list.html", {"page": page, "section": "products"})


def _feed_form(request: WorkspaceRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "url": post.get("url", "").strip(),
        "format": post.get("format", FeedFormat.AUTO),
        "every_hours": post.get("every_hours", "24"),
        "enabled": post.get("enabled") == "on",
    }


@workspace_view()
def feed_settings(request: WorkspaceRequest) -> HttpResponse:
    feed = selectors.feed_get(workspace=request.workspace)
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.POST.get("action") == "fetch":
        if feed is None:
            raise Http404("No feed.")
        services.feed_fetch_now(feed=feed)
        transaction.on_commit(lambda: tasks.feed_fetch.delay(feed.pk))
        messages.success(request, "The feed is being fetched; reload to see the run.")
        return redirect("catalog:feed", request.workspace.slug)
    if request.method == "POST":
        form = _feed_form(request)
        try:
            services.feed_save(workspace=request.workspace, actor=Actor(user=request.user), **form)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            messages.success(request, "Feed saved; it is fetched within five minutes.")
            return redirect("catalog:feed", request.workspace.slug)
    elif feed is not None:
        form = {
            "url": feed.url,
            "format": feed.format,
            "every_hours": feed.every_hours,
            "enabled": feed.enabled,
        }
    else:
        form = {"url": "", "format": FeedFormat.AUTO, "every_hours": 24, "enabled": True}
    return render(
        request,
        "catalog/feed.html",
        {
            "feed": feed,
            "form": form,
            "errors": errors,
            "formats": FeedFormat.choices,
            "runs": selectors.feed_runs(workspace=request.workspace),
            "section": "products",
        },
        status=400 if errors else 200,
    )
