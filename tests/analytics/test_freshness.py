"""Freshness: whatever ANALYTICS_CACHE_SECONDS says, a figure shown reflects every piece
of data accepted more than 15 seconds before (issue 15: a 1,000.00 purchase was
invisible 8 s later, and the same parameters served a figure up to 300 s stale). The
clock is advanced, never slept on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from analytics.cache import FRESH_SECONDS
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import marked_contacts_evaluate, stages_create_defaults
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/overview/"


class Clock:
    """timezone.now, moved forward by hand (every caller of django.utils.timezone.now)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.offset = dt.timedelta()
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def cached(settings: Any, ws: Any) -> Any:
    settings.ANALYTICS_CACHE_SECONDS = 300  # the figures go through the cache
    stages_create_defaults(workspace=ws)
    return ws


def revenue(api: Any) -> tuple[str, str]:
    body = api.get(URL).json()
    return body["figures"]["revenue"]["value"], body["computed_at"]


@pytest.fixture
def drain(django_capture_on_commit_callbacks: Any) -> Any:
    """Run the engine on what is marked, as the workers would (with the callbacks its
    commits run: the rollups' "data changed" stamp is one)."""

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            while marked_contacts_evaluate():
                pass
            while transitions_dispatch():
                pass

    return run


def buy(api: Any, contact_id: int, amount: str) -> None:
    response = api.post(
        "/api/v1/events/",
        {"contact": {"id": contact_id}, "name": "purchase", "revenue": amount},
        format="json",
    )
    assert response.status_code == 202, response.json()


def test_a_purchase_is_in_the_figures_15_seconds_after_it_was_accepted(
    api: Any, cached: Any, clock: Clock
) -> None:
    contact = ContactFactory.create(workspace=cached)
    before, computed = revenue(api)
    assert before == "0.00"
    buy(api, contact.pk, "1000.00")
    # Within the window the cached figure may still be served...
    clock.advance(FRESH_SECONDS - 7)
    assert revenue(api) == (before, computed)
    # ...past it, never: the engine has not even evaluated the contact yet.
    clock.advance(8)
    assert revenue(api)[0] == "1000.00"


def test_also_once_the_engine_took_the_purchase_in(
    api: Any, cached: Any, clock: Clock, drain: Any
) -> None:
    contact = ContactFactory.create(workspace=cached)
    drain()
    first, computed = revenue(api)
    buy(api, contact.pk, "12.34")
    clock.advance(1)
    drain()  # rollups refreshed, marks gone: the change is known by its stamp
    clock.advance(FRESH_SECONDS)
    value, recomputed = revenue(api)
    assert (first, value) == ("0.00", "12.34")
    assert recomputed > computed


def test_a_quiet_workspace_keeps_its_cached_figures(
    api: Any, cached: Any, clock: Clock, drain: Any
) -> None:
    """Nothing accepted since: the figure computed a minute ago is still true and is
    served from the cache (no recomputation per page view on a quiet workspace)."""
    contact = ContactFactory.create(workspace=cached)
    buy(api, contact.pk, "5.00")
    drain()
    clock.advance(1)
    value, computed = revenue(api)
    assert value == "5.00"
    clock.advance(60)
    assert revenue(api) == (value, computed)
    clock.advance(300)  # past ANALYTICS_CACHE_SECONDS in the clock, not in Redis: still true
    assert revenue(api)[1] == computed


def test_the_page_says_when_the_figures_were_computed(client: Any, owner: Any, cached: Any) -> None:
    client.force_login(owner.user)
    cached.time_zone = "Pacific/Auckland"
    cached.save()
    page = client.get(f"/w/{cached.slug}/analytics/").content.decode()
    shown = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=0)))
    assert 'data-testid="computed-at"' in page
    assert "Computed " in page and "(Pacific/Auckland)" in page
    assert shown.strftime("%Y") in page
