"""Birthday points (loyalty/services/birthdays.py): on a member's birthday in the
workspace's time zone the programme records a `birthday` event, which earns the points
`event_points` gives it, once a year however often beat runs; 29 February birthdays
count on 28 February in other years; the setting is checked like every other."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from contacts.models import Event
from lifecycle.services import marked_contacts_evaluate
from loyalty.models import LedgerEntry, Programme
from loyalty.services import birthdays_record_due
from tests.factories import ContactFactory, WorkspaceFactory
from tests.loyalty.helpers import balance, programme

pytestmark = pytest.mark.django_db


def _run(now: dt.datetime) -> int:
    recorded = birthdays_record_due(now=now)
    while marked_contacts_evaluate():
        pass
    return recorded


def _member(ws: Any, birthday: Any) -> Any:
    return ContactFactory.create(workspace=ws, attributes={"birthday": birthday})


def _birthday_programme(ws: Any, **data: Any) -> None:
    programme(ws, event_points={"birthday": 100}, **data)
    Programme.objects.filter(workspace=ws).update(enabled_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def test_a_member_earns_birthday_points_once_on_the_day_in_the_workspace_zone(ws):
    ws.time_zone = "Pacific/Auckland"  # UTC+13 in December
    ws.save(update_fields=["time_zone"])
    _birthday_programme(ws)
    # 12:00 UTC on 5 December is 01:00 on 6 December in Auckland.
    now = dt.datetime(2025, 12, 5, 12, tzinfo=dt.UTC)
    today = _member(ws, "1990-12-06")
    utc_today = _member(ws, "1990-12-05")
    malformed = _member(ws, "6 December")
    timestamp = _member(ws, "1985-12-06T08:00:00Z")
    assert _run(now) == 2
    assert _run(now + dt.timedelta(hours=1)) == 0  # beat's next hour: nothing twice
    for contact in (today, timestamp):
        assert balance(contact) == 100
        entry = LedgerEntry.objects.get(contact=contact)
        assert (entry.reason, entry.points) == ("birthday", 100)
    assert balance(utc_today) == balance(malformed) == 0
    assert Event.objects.filter(name="birthday").count() == 2
    # The next year's birthday is another event and earns again.
    assert _run(now + dt.timedelta(days=365)) == 2
    assert balance(today) == 200


def test_29_february_birthdays_count_on_28_february_in_other_years(ws):
    _birthday_programme(ws)
    leapling = _member(ws, "2000-02-29")
    assert _run(dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)) == 1  # 2026: no 29th
    assert balance(leapling) == 100
    assert _run(dt.datetime(2024, 2, 28, 12, tzinfo=dt.UTC)) == 0  # 2024 has one
    assert _run(dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)) == 1
    assert balance(leapling) == 200


def test_the_attribute_is_the_workspaces_choice(ws):
    _birthday_programme(ws, birthday_attribute="born_on")
    contact = ContactFactory.create(
        workspace=ws, attributes={"born_on": "1990-03-10", "birthday": "1990-01-01"}
    )
    assert _run(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)) == 0
    assert _run(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)) == 1
    assert balance(contact) == 100


def test_no_birthday_events_without_birthday_points_or_with_the_programme_off(ws):
    other = WorkspaceFactory.create(slug="other")  # no programme at all
    now = dt.datetime(2026, 5, 17, 12, tzinfo=dt.UTC)
    programme(ws, event_points={"review": 5})
    _member(ws, "1990-05-17")
    _member(other, "1990-05-17")
    assert _run(now) == 0
    _birthday_programme(ws, enabled=False)
    assert _run(now) == 0
    assert not Event.objects.filter(name="birthday").exists()


def test_the_setting_is_refused_with_its_field_and_reason(api, outsider_api):
    url = "/api/v1/loyalty/programme/"
    refused = api.patch(url, {"birthday_attribute": "date of birth"}, format="json")
    assert refused.status_code == 400, refused.content
    assert "birthday_attribute" in refused.json()["error"]["fields"]
    saved = api.patch(url, {"birthday_attribute": "born_on"}, format="json")
    assert saved.status_code == 200 and saved.json()["birthday_attribute"] == "born_on"
    assert outsider_api.get(url).json()["birthday_attribute"] == "birthday"
