"""The catalogue's dashboard pages: products with search and filters, one product,
the unknown product ids and the feed's settings; escaped, scoped to the workspace."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from catalog import services
from catalog.models import FeedRunStatus, ProductFeed, ProductFeedRun, UnknownProduct
from catalog.validation import clean_product
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


def _products(ws: Any, *items: dict[str, Any]) -> None:
    cleaned = [clean_product(item, default_currency="EUR")[0] for item in items]
    services.products_upsert(workspace=ws, items=cleaned, actor=Actor(system="t"), source="t")


@pytest.fixture
def catalogue(ws: Any) -> Any:
    _products(
        ws,
        {"product_id": "beans", "title": "House blend", "price": 12, "categories": ["Beans"]},
        {
            "product_id": "grinder",
            "title": "Hand grinder",
            "categories": ["Equipment"],
            "quantity": 0,
        },
        {"product_id": "old", "title": "Old blend", "categories": ["Beans"], "active": False},
        {"product_id": "x<script>", "title": "<b>Evil</b>", "attributes": {"k": "<i>v</i>"}},
    )
    return ws


def _url(ws: Any, rest: str = "") -> str:
    return f"/w/{ws.slug}/catalogue/{rest}"


def test_list_searches_and_filters(owner, catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        page = owner.web.get(_url(catalogue)).content.decode()
    assert "House blend" in page and "Hand grinder" in page
    assert "Old blend" not in page  # active only by default
    assert "&lt;b&gt;Evil&lt;/b&gt;" in page and "<b>Evil</b>" not in page
    page = owner.web.get(_url(catalogue), {"category": "Beans", "active": "all"}).content.decode()
    assert "House blend" in page and "Old blend" in page and "Hand grinder" not in page
    page = owner.web.get(_url(catalogue), {"in_stock": "no"}).content.decode()
    assert "Hand grinder" in page and "House blend" not in page
    page = owner.web.get(_url(catalogue), {"q": "HOUSE"}).content.decode()
    assert "House blend" in page and "Hand grinder" not in page


def test_detail_is_escaped_and_scoped(owner, outsider, catalogue):
    response = owner.web.get(_url(catalogue, "p/x%3Cscript%3E/"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "&lt;i&gt;v&lt;/i&gt;" in page and "<i>v</i>" not in page
    assert owner.web.get(_url(catalogue, "p/nope/")).status_code == 404
    # Another workspace's member reaches neither the product nor the list.
    assert outsider.web.get(_url(catalogue, "p/beans/")).status_code == 404
    assert outsider.web.get(_url(catalogue)).status_code == 404
    assert "House blend" not in outsider.web.get(_url(outsider.workspace)).content.decode()


def test_unknown_products_listed(owner, ws):
    now = timezone.now()
    for pid in ("MUG", "beans"):
        UnknownProduct.objects.create(
            workspace=ws,
            product_id=pid,
            occurrences=3,
            last_event="purchase",
            first_seen_at=now - dt.timedelta(days=1),
            last_seen_at=now,
        )
    _products(ws, {"product_id": "beans", "title": "House blend"})
    page = owner.web.get(_url(ws, "unknown/")).content.decode()
    assert "MUG" in page and "<code>beans</code>" not in page  # held now: off the list


def test_feed_settings_form(owner, teammate, ws, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = owner.web.post(
        _url(ws, "feed/"), {"url": "https://10.0.0.1/f.csv", "format": "csv", "every_hours": "0"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "private or internal" in page and "from 1 to 168" in page
    assert not ProductFeed.objects.exists()
    # 8.8.8.8 is public: saved (nothing is fetched until the worker runs).
    response = owner.web.post(
        _url(ws, "feed/"),
        {"url": "https://8.8.8.8/f.csv", "format": "csv", "every_hours": "6", "enabled": "on"},
    )
    assert response.status_code == 302
    feed = ProductFeed.objects.get(workspace=ws)
    assert (feed.url, feed.every_hours, feed.enabled) == ("https://8.8.8.8/f.csv", 6, True)
    ProductFeedRun.objects.create(
        workspace=ws,
        feed=feed,
        url=feed.url,
        status=FeedRunStatus.FAILED,
        reason="the server answered 404",
        started_at=timezone.now(),
        errors=[{"row": 2, "reason": "title: <must>"}],
    )
    page = owner.web.get(_url(ws, "feed/")).content.decode()
    assert "the server answered 404" in page and "title: &lt;must&gt;" in page
    # A viewer sees the page and cannot change it.
    assert teammate.web.get(_url(ws, "feed/")).status_code == 200
    denied = teammate.web.post(_url(ws, "feed/"), {"url": "https://1.1.1.1/", "every_hours": 1})
    assert denied.status_code == 403
    assert ProductFeed.objects.get(workspace=ws).url == "https://8.8.8.8/f.csv"


def test_nav_has_the_catalogue(owner, ws):
    page = owner.web.get(f"/w/{ws.slug}/contacts/").content.decode()
    assert f'href="/w/{ws.slug}/catalogue/"' in page
