"""The product feed: fetched from a real HTTP server on 127.0.0.1 (test settings allow
exactly 127.0.0.1/32; production allows no private network), upserted through the
batch service, each run recorded; private addresses, redirects to them, oversize and
slow answers refused."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest
import trustme

from catalog import services, tasks
from catalog.models import FeedRunStatus, Product, ProductFeed, ProductFeedRun
from config.errors import InvalidInput
from tests.dns_server import ScriptedDns
from tests.http_stub import Answer, HttpStub
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

CSV = (
    "SKU,Name,Price,Stock,Category,Roast\n"
    "beans-1,House blend,12.50,10,Beans,medium\n"
    "beans-2,Decaf,-3,5,Beans,dark\n"
    "grinder,Hand grinder,45,0,Equipment,\n"
)


@pytest.fixture
def http_feeds(settings: Any) -> Any:
    """Plain http for the local server (production: https only)."""
    settings.CATALOG_FEED_SCHEMES = ["https", "http"]
    return settings


def _feed(ws: Any, url: str, format: str = "auto") -> ProductFeed:
    return services.feed_save(
        workspace=ws, url=url, format=format, every_hours=24, enabled=True, actor=Actor(system="t")
    )


def test_csv_feed_upserts_products_and_records_row_errors(ws, http_feeds):
    with HttpStub(lambda r, n: Answer(200, {"Content-Type": "text/csv"}, CSV.encode())) as srv:
        feed = _feed(ws, f"{srv.url}/products.csv")
        run = services.feed_run(feed=feed)
    assert run.status == FeedRunStatus.SUCCEEDED, run.reason
    assert (run.created, run.updated, run.unchanged, run.rejected) == (2, 0, 0, 1)
    assert run.errors == [{"row": 3, "reason": "price: must not be negative"}]
    house = Product.objects.get(workspace=ws, product_id="beans-1")
    assert str(house.price) == "12.50" and house.categories == ["Beans"]
    assert house.attributes == {"Roast": "medium"}  # an unknown column: a custom attribute
    assert Product.objects.get(workspace=ws, product_id="grinder").in_stock is False
    # The same feed again changes nothing.
    with HttpStub(lambda r, n: Answer(200, {}, CSV.encode())) as srv:
        ProductFeed.objects.filter(pk=feed.pk).update(url=f"{srv.url}/p.csv")
        feed.refresh_from_db()
        again = services.feed_run(feed=feed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_json_feed_list_or_object(ws, http_feeds):
    body = {"products": [{"product_id": "a", "title": "A", "price": 3}, {"title": "no id"}]}
    with HttpStub(lambda r, n: Answer(200, {}, json.dumps(body).encode())) as srv:
        run = services.feed_run(feed=_feed(ws, f"{srv.url}/feed", format="json"))
    assert run.status == FeedRunStatus.SUCCEEDED
    assert (run.created, run.rejected) == (1, 1)
    assert run.errors[0]["row"] == 2 and run.errors[0]["reason"].startswith("product_id:")
    assert Product.objects.get(workspace=ws, product_id="a").currency == ws.currency


def test_a_feed_that_is_not_a_list_fails_the_run_and_writes_nothing(ws, http_feeds):
    with HttpStub(lambda r, n: Answer(200, {}, b'{"items": 3}')) as srv:
        run = services.feed_run(feed=_feed(ws, srv.url + "/"))
    assert run.status == FeedRunStatus.FAILED and "list of products" in run.reason
    with HttpStub(lambda r, n: Answer(404)) as srv:
        run = services.feed_run(feed=_feed(ws, srv.url + "/gone"))
    assert run.status == FeedRunStatus.FAILED and run.reason == "the server answered 404"
    assert not Product.objects.filter(workspace=ws).exists()


def test_oversize_body_is_aborted(ws, http_feeds):
    http_feeds.CATALOG_FEED_MAX_BYTES = 100_000
    big = ("SKU,Name\n" + "x,y\n" * 50_000).encode()
    with HttpStub(lambda r, n: Answer(200, {}, big)) as srv:
        run = services.feed_run(feed=_feed(ws, srv.url + "/big.csv"))
    assert run.status == FeedRunStatus.FAILED and "larger than 100000 bytes" in run.reason
    assert not Product.objects.filter(workspace=ws).exists()


def test_redirect_to_a_private_address_is_refused(ws, http_feeds):
    """The first address is allowed; its redirect points at 127.0.0.2 (loopback, not
    allowed): refused, and nothing reaches the second server."""
    inner = HttpStub(lambda r, n: Answer(200, {}, CSV.encode()), address="127.0.0.2")
    try:
        location = {"Location": f"http://127.0.0.2:{inner.port}/secret.csv"}
        with HttpStub(lambda r, n: Answer(302, location)) as outer:
            run = services.feed_run(feed=_feed(ws, outer.url + "/feed.csv"))
        assert run.status == FeedRunStatus.FAILED
        assert "not a public address" in run.reason
        assert inner.requests == []
    finally:
        inner.close()


def test_redirect_to_an_allowed_address_is_followed(ws, http_feeds):
    inner = HttpStub(lambda r, n: Answer(200, {}, CSV.encode()))
    moved = {"Location": f"{inner.url}/real.csv"}
    with inner, HttpStub(lambda r, n: Answer(301, moved)) as outer:
        run = services.feed_run(feed=_feed(ws, outer.url + "/feed.csv"))
    assert run.status == FeedRunStatus.SUCCEEDED and run.created == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/feed.csv",
        "https://10.1.2.3/feed.csv",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/feed.csv",
    ],
)
def test_production_default_refuses_private_addresses(ws, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # production's setting
    with pytest.raises(InvalidInput) as caught:
        _feed(ws, url)
    assert "private or internal" in caught.value.fields["url"][0]


def test_a_public_name_resolving_to_a_private_address_is_refused(ws, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    # Public when the feed is saved, private when it is fetched (DNS rebinding).
    with ScriptedDns({"shop.example.test": ["8.8.8.8", "10.0.0.5"]}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        feed = _feed(ws, "https://shop.example.test/feed.csv")
        run = services.feed_run(feed=feed)
    assert run.status == FeedRunStatus.FAILED and "10.0.0.5" in run.reason


def test_http_is_refused_in_production(ws, settings):
    # What settings_work gives with DEBUG off (the test run may have DEBUG on).
    settings.CATALOG_FEED_SCHEMES = ["https"]
    with pytest.raises(InvalidInput) as caught:
        _feed(ws, "http://127.0.0.1/feed.csv")
    assert caught.value.fields["url"] == ["must be an https address"]


def test_https_feed_with_a_verified_certificate(ws, settings, tmp_path):
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("feeds.shop.test").configure_cert(context)
    with (
        HttpStub(lambda r, n: Answer(200, {}, CSV.encode()), tls=context) as srv,
        ScriptedDns({"feeds.shop.test": ["127.0.0.1"]}) as dns,
    ):
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        settings.OUTBOUND_CA_BUNDLE = str(bundle)
        run = services.feed_run(feed=_feed(ws, f"https://feeds.shop.test:{srv.port}/p.csv"))
    assert run.status == FeedRunStatus.SUCCEEDED and run.created == 2
    assert srv.requests[0].headers["Host"] == f"feeds.shop.test:{srv.port}"


def test_beat_claims_each_due_feed_once(ws, http_feeds, settings):
    with HttpStub(lambda r, n: Answer(200, {}, CSV.encode())) as srv:
        feed = _feed(ws, srv.url + "/p.csv")
        assert services.feeds_claim_due() == [feed.pk]
        assert services.feeds_claim_due() == []  # moved to its next time
        tasks.feed_fetch(feed.pk)
    feed.refresh_from_db()
    assert ProductFeedRun.objects.filter(feed=feed).count() == 1
    assert (feed.next_due_at - ProductFeedRun.objects.get().started_at).total_seconds() > 23 * 3600
