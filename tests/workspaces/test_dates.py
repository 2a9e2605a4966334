"""Dates in the workspace's format: one table of formats per locale (workspaces/dates.py)
used by the `when` filter on every page; the settings page chooses the locale, and a
page of the workspace then writes its dates that way (another workspace keeps its own)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from tests.factories import ContactFactory
from workspaces.dates import DateLocale, date_locale_active, format_when

MOMENT = dt.datetime(2026, 12, 5, 14, 30, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("locale", "datetime", "date", "short", "time"),
    [
        ("en-GB", "5 Dec 2026, 14:30", "5 Dec 2026", "5 Dec, 14:30", "14:30"),
        ("en-US", "Dec 5, 2026, 2:30 PM", "Dec 5, 2026", "Dec 5, 2:30 PM", "2:30 PM"),
        ("de-DE", "05.12.2026, 14:30", "05.12.2026", "05.12., 14:30", "14:30"),
        ("fr-FR", "05/12/2026 14:30", "05/12/2026", "05/12 14:30", "14:30"),
        ("iso", "2026-12-05 14:30", "2026-12-05", "12-05 14:30", "14:30"),
    ],
)
def test_each_locale_has_one_format_per_style(locale, datetime, date, short, time):
    assert format_when(MOMENT, locale=locale) == datetime
    assert format_when(MOMENT, "date", locale=locale) == date
    assert format_when(MOMENT, "short", locale=locale) == short
    assert format_when(MOMENT, "time", locale=locale) == time
    assert format_when(MOMENT.date(), "datetime", locale=locale) == date  # a day has no time


def test_the_filter_follows_the_active_locale_and_the_chosen_zone():
    page = Template(
        '{% load tz %}{{ moment|when }} | {{ moment|timezone:"Europe/Berlin"|when:"time" }} | '
        '{{ none|when }}|{{ moment|when:"seconds" }}'
    )
    context = Context({"moment": MOMENT, "none": None})
    assert page.render(context) == "5 Dec 2026, 14:30 | 15:30 | |5 Dec 2026, 14:30:09"
    with date_locale_active(DateLocale.EN_US):
        assert page.render(context).startswith("Dec 5, 2026, 2:30 PM | 3:30 PM")
    with date_locale_active("nonsense"):
        assert page.render(context).startswith("5 Dec 2026, 14:30")


@pytest.mark.django_db
def test_the_settings_page_sets_how_every_page_writes_dates(owner, teammate, outsider):
    contact = ContactFactory.create(workspace=owner.workspace)
    ContactFactory.create(workspace=outsider.workspace)
    type(contact).objects.filter(pk=contact.pk).update(created_at=MOMENT)
    before = owner.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    assert "5 Dec 2026, 14:30" in before
    page = owner.web.get("/w/acme/settings/").content.decode()
    assert 'name="date_locale"' in page and "English (US): Dec 5, 2026, 2:30 PM" in page
    form = {
        "name": "Acme",
        "time_zone": "UTC",
        "currency": "USD",
        "purchase_event_names": "purchase",
    }
    refused = owner.web.post("/w/acme/settings/", {**form, "date_locale": "xx"})
    assert refused.status_code == 200 and "must be one of" in refused.content.decode()
    saved = owner.web.post("/w/acme/settings/", {**form, "date_locale": "en-US"})
    assert saved.status_code == 302
    after = owner.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    assert "Dec 5, 2026, 2:30 PM" in after and "5 Dec 2026, 14:30" not in after
    listed = teammate.web.get("/w/acme/contacts/").content.decode()
    assert "Dec 5, 2026" in listed  # every member sees the workspace's format
    assert teammate.web.post("/w/acme/settings/", {**form, "date_locale": "iso"}).status_code == 403
    # Another workspace keeps its own format.
    theirs = outsider.web.get("/w/globex/contacts/").content.decode()
    assert format_when(timezone.now(), "date", locale="en-GB") in theirs
    assert outsider.web.post("/w/acme/settings/", {**form, "date_locale": "iso"}).status_code == 404


@pytest.mark.django_db
def test_a_member_may_choose_their_own_date_format(owner, teammate, outsider):
    contact = ContactFactory.create(workspace=owner.workspace)
    type(contact).objects.filter(pk=contact.pk).update(created_at=MOMENT)
    url = "/w/acme/settings/my-date-format/"
    # A viewer changes only what they see.
    assert teammate.web.post(url, {"date_locale": "de-DE"}).status_code == 302
    teammate.membership.refresh_from_db()
    assert teammate.membership.date_locale == "de-DE"
    assert (
        "05.12.2026, 14:30" in teammate.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    )
    assert "5 Dec 2026, 14:30" in owner.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    page = teammate.web.get("/w/acme/settings/").content.decode()
    assert 'value="de-DE" selected' in page
    # A bad value is refused with the reason; "" goes back to the workspace's.
    refused = teammate.web.post(url, {"date_locale": "xx"}, follow=True).content.decode()
    assert "one of en-GB" in refused
    teammate.web.post(url, {"date_locale": ""})
    teammate.membership.refresh_from_db()
    assert teammate.membership.date_locale == ""
    assert (
        "5 Dec 2026, 14:30" in teammate.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    )
    assert outsider.web.post(url, {"date_locale": "iso"}).status_code == 404
