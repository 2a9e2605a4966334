"""Browse abandonment: a contact's views (less than N hours apart: one session) with no
cart or purchase until N hours after the last one let them in once per session, when
the scan passes the window's close; a cart or purchase in the session keeps them out;
a retried or concurrent scan enters nobody twice; re-entry settings apply; views from
before the journey went live, or in another workspace, count for nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from campaigns.journeys.browse_scan import browse_scan, browse_scan_journey
from campaigns.models import Journey, JourneyEnrolment, JourneyScanMark
from config.errors import InvalidInput
from contacts.models import Event
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

WAIT = [step("w", "wait", duration={"hours": 1})]
FORM = {
    "name": "Browse",
    "goal_kind": "",
    "goal_days": "7",
    "reentry": "once",
    "reentry_days": "0",
    "holdout_percent": "0",
    "exit_on_unsubscribe": "on",
}


def _event(ws: Any, contact: Any, name: str, at: dt.datetime, sku: str = "grinder") -> Event:
    properties: dict[str, Any] = (
        {"product_id": sku} if name == "product_viewed" else {"items": [{"product_id": sku}]}
    )
    return Event.objects.create(
        workspace=ws, contact=contact, name=name, properties=properties, occurred_at=at
    )


def _browse(ws: Any, hours: int = 4, **extra: Any) -> Journey:
    j = journey(ws, {"kind": "browse_abandoned", "hours": hours}, WAIT, **extra)
    # Live since a day ago, so the test's views fall after it.
    Journey.objects.filter(pk=j.pk).update(live_since=timezone.now() - dt.timedelta(days=1))
    j.refresh_from_db()
    return j


def _entered(j: Journey) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for contact_id, key in JourneyEnrolment.objects.filter(journey=j).values_list(
        "contact_id", "trigger_key"
    ):
        out.setdefault(contact_id, []).append(key)
    return out


def test_a_session_without_cart_or_purchase_enters_once_when_its_window_closes(ws, outsider):
    now = timezone.now()
    j = _browse(ws, hours=4)
    browser, carter, late_buyer, recent, before_live = (
        ContactFactory.create(workspace=ws) for _ in range(5)
    )
    # Two views an hour apart: one session, closing 4 hours after the second view.
    _event(ws, browser, "product_viewed", now - dt.timedelta(hours=7))
    last = _event(ws, browser, "product_viewed", now - dt.timedelta(hours=6), sku="kettle")
    # Carted within the window: stays out.
    _event(ws, carter, "product_viewed", now - dt.timedelta(hours=6))
    _event(ws, carter, "added_to_cart", now - dt.timedelta(hours=3))
    # Bought after the window closed: that does not undo the abandonment.
    _event(ws, late_buyer, "product_viewed", now - dt.timedelta(hours=10))
    _event(ws, late_buyer, "purchase", now - dt.timedelta(hours=1))
    # Window still open (viewed 2 hours ago).
    _event(ws, recent, "product_viewed", now - dt.timedelta(hours=2))
    # Viewed before the journey went live.
    _event(ws, before_live, "product_viewed", now - dt.timedelta(days=2))
    # Another workspace's contact, viewing long enough ago.
    _event(
        outsider.workspace,
        ContactFactory.create(workspace=outsider.workspace),
        "product_viewed",
        now - dt.timedelta(hours=8),
    )

    assert browse_scan_journey(j, now=now) == 2
    assert _entered(j) == {browser.pk: [f"browse:{last.pk}"], late_buyer.pk: [_key(late_buyer)]}
    entry = JourneyEnrolment.objects.get(journey=j, contact=browser)
    assert entry.entered_at == last.occurred_at + dt.timedelta(hours=4)  # the window's close
    assert JourneyScanMark.objects.get(journey=j).scanned_until == now

    # A retry at the same time, or a later scan, enters nobody twice; the recent
    # viewer enters once their window closes.
    assert browse_scan_journey(j, now=now) == 0
    JourneyScanMark.objects.filter(journey=j).update(scanned_until=now - dt.timedelta(days=1))
    assert browse_scan_journey(j, now=now) == 0  # a scan that starts over: keys already counted
    assert browse_scan_journey(j, now=now + dt.timedelta(hours=3)) == 1
    assert recent.pk in _entered(j) and carter.pk not in _entered(j)
    assert before_live.pk not in _entered(j)


def _key(contact: Any) -> str:
    view = Event.objects.get(contact=contact, name="product_viewed")
    return f"browse:{view.pk}"


def test_a_later_view_extends_the_session(ws):
    now = timezone.now()
    j = _browse(ws, hours=4)
    contact = ContactFactory.create(workspace=ws)
    _event(ws, contact, "product_viewed", now - dt.timedelta(hours=5))
    _event(ws, contact, "product_viewed", now - dt.timedelta(hours=2))  # within 4 h of the first
    assert browse_scan_journey(j, now=now) == 0  # the session's window is still open
    assert browse_scan_journey(j, now=now + dt.timedelta(hours=2, minutes=1)) == 1


def test_reentry_settings_decide_later_sessions(ws):
    now = timezone.now()
    once = _browse(ws, hours=1, name="Once")
    always = _browse(ws, hours=1, name="Always", reentry="always")
    contact = ContactFactory.create(workspace=ws)
    _event(ws, contact, "product_viewed", now - dt.timedelta(hours=20))
    _event(ws, contact, "product_viewed", now - dt.timedelta(hours=10))  # a second session
    assert browse_scan_journey(once, now=now) == 1
    # One enrolment at a time: the second session enters once the first is done.
    assert browse_scan_journey(always, now=now) == 1
    JourneyEnrolment.objects.filter(journey=always).update(status="completed")
    JourneyScanMark.objects.filter(journey=always).update(scanned_until=now - dt.timedelta(days=1))
    assert browse_scan_journey(always, now=now) == 1
    assert len(_entered(always)[contact.pk]) == 2 and len(_entered(once)[contact.pk]) == 1


def test_the_beat_scan_covers_live_journeys_only(ws):
    now = timezone.now()
    live = _browse(ws, hours=1, name="Live")
    draft = journey(ws, {"kind": "browse_abandoned", "hours": 1}, WAIT, live=False, name="Draft")
    contact = ContactFactory.create(workspace=ws)
    _event(ws, contact, "product_viewed", now - dt.timedelta(hours=3))
    assert browse_scan(now=now) == 1
    assert _entered(live) and not _entered(draft)


@pytest.mark.django_db(transaction=True)
def test_a_journey_held_by_another_worker_is_skipped(ws):
    j = _browse(ws, hours=1)
    contact = ContactFactory.create(workspace=ws)
    _event(ws, contact, "product_viewed", timezone.now() - dt.timedelta(hours=3))
    assert j.live_since is not None
    JourneyScanMark.objects.create(workspace=ws, journey=j, scanned_until=j.live_since)
    d = connection.settings_dict
    with psycopg.connect(
        dbname=d["NAME"], host=d["HOST"] or None, port=d["PORT"] or None, user=d["USER"]
    ) as other:
        other.execute(
            "SELECT 1 FROM campaigns_journeyscanmark WHERE journey_id = %s FOR UPDATE", [j.pk]
        )
        assert browse_scan_journey(j) is None  # held by the other worker: skipped
        assert not _entered(j)
        other.rollback()
    assert browse_scan_journey(j) == 1


def test_hours_are_checked(ws):
    with pytest.raises(InvalidInput) as caught:
        journey(ws, {"kind": "browse_abandoned", "hours": 0}, WAIT)
    assert "trigger.hours" in caught.value.fields
    with pytest.raises(InvalidInput) as caught:
        journey(ws, {"kind": "browse_abandoned", "hours": "4"}, WAIT, name="J2")
    assert "trigger.hours" in caught.value.fields


def test_the_form_sets_the_hours_and_the_product_triggers_lookback(owner, ws):
    steps = json.dumps(WAIT)
    base = {**FORM, "steps": steps}
    bad = owner.web.post(
        f"/w/{ws.slug}/journeys/new/",
        {**base, "trigger_kind": "browse_abandoned", "trigger_hours": "0"},
    )
    assert "trigger.hours: must be a whole number of hours from 1 to 168" in bad.content.decode()
    made = owner.web.post(
        f"/w/{ws.slug}/journeys/new/",
        {**base, "trigger_kind": "browse_abandoned", "trigger_hours": "6"},
    )
    assert made.status_code == 302
    j = Journey.objects.get(workspace=ws, name="Browse")
    assert j.trigger == {"kind": "browse_abandoned", "hours": 6}
    page = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert "Views products, then no cart or purchase within 6 hours" in page
    assert 'name="trigger_hours" min="1" max="168" value="6"' in page
    changed = owner.web.post(
        f"/w/{ws.slug}/journeys/{j.pk}/",
        {**base, "trigger_kind": "price_drop", "trigger_lookback_days": "14"},
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    j.refresh_from_db()
    assert j.trigger == {"kind": "price_drop", "lookback_days": 14}
    page = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert "A product they viewed or carted in the last 14 days drops in price" in page
    assert 'name="trigger_lookback_days" min="1" max="90" value="14"' in page
