"""The contact page as a 360° view: value in plain words, messages with opens and
clicks, journeys and the step, an activity feed filterable by event name with runs of
page views collapsed, and the erase action in a danger zone at the bottom. Each panel
is a 404 to another workspace's member."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import ClvModel, CustomerFacts
from campaigns.journeys.triggers import enrol_api
from contacts.services.summaries import event_summaries_refresh
from tests.campaigns.journeys.helpers import advance, journey, step
from tests.factories import ContactFactory, EventFactory, MessageFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(owner):
    return ContactFactory.create(workspace=owner.workspace, email="lily@example.com")


def test_value_panel_says_it_in_words(owner, contact):
    now = timezone.now()
    CustomerFacts.objects.create(
        contact=contact,
        workspace=owner.workspace,
        signup_at=now,
        signup_month=now.date().replace(day=1),
        first_purchase_at=now - dt.timedelta(days=100),
        last_purchase_at=now - dt.timedelta(days=10),
        orders=6,
        purchases=6,
        revenue=Decimal("1177.50"),
        predicted_clv=Decimal("247.86"),
        probability_alive=0.96,
    )
    ClvModel.objects.create(
        workspace=owner.workspace,
        as_of=now.date(),
        r=0.2,
        alpha=4.0,
        a=0.8,
        b=2.4,
        log_likelihood=-100.0,
        customers=10,
        fit_seconds=0.1,
        applied=True,
        horizon_weeks=52,
    )
    page = owner.web.get(f"/w/acme/contacts/{contact.pk}/value/").content.decode()
    assert "$1,177.50" in page and "$247.86" in page
    assert "very likely still an active customer (96% chance)" in page
    assert "next 12 months" in page


def test_value_panel_without_purchases(owner, contact):
    assert (
        "Has not bought yet"
        in owner.web.get(f"/w/acme/contacts/{contact.pk}/value/").content.decode()
    )


def test_messages_panel_counts_opens_and_clicks(owner, contact):
    template = TemplateFactory.create(workspace=owner.workspace, name="Welcome")
    now = timezone.now()
    MessageFactory.create(
        contact=contact,
        template=template,
        subject="Hello Lily",
        status="sent",
        sent_at=now,
        opened_at=now,
    )
    MessageFactory.create(
        contact=contact,
        template=template,
        subject="Beans are back",
        status="sent",
        sent_at=now,
        opened_at=now,
        clicked_at=now,
    )
    MessageFactory.create(contact=contact, template=template, subject="<b>Test</b>", is_test=True)
    page = owner.web.get(f"/w/acme/contacts/{contact.pk}/messages/").content.decode()
    assert "2 sent · 2 opened · 1 clicked" in page
    assert "Beans are back" in page and "clicked" in page
    assert "&lt;b&gt;Test" not in page and "<b>Test" not in page  # test sends are not the contact's


def test_journeys_panel_shows_the_step(owner, contact):
    template = TemplateFactory.create(workspace=owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [
            step("hello", "send_email", template_id=template.pk, next="pause"),
            step("pause", "wait", duration={"days": 3}),
        ],
        name="Onboarding <i>",
    )
    enrol_api(j, [contact.pk])
    advance()
    page = owner.web.get(f"/w/acme/contacts/{contact.pk}/journeys/").content.decode()
    assert "Onboarding &lt;i&gt;" in page
    assert "In the journey" in page


def test_activity_feed_filters_and_collapses_page_views(owner, contact):
    for minutes in range(5):
        EventFactory.ago(1, contact=contact, name="page_view", properties={"url": f"/p{minutes}"})
    EventFactory.ago(0, contact=contact, name="purchase", revenue="12.50", currency="EUR")
    event_summaries_refresh(contact_ids=[contact.pk])
    page = owner.web.get(f"/w/acme/contacts/{contact.pk}/").content.decode()
    assert "page_view</strong> \u00d7 5" in page
    assert "€12.50" in page
    assert "page_view (5)" in page
    only = owner.web.get(
        f"/w/acme/contacts/{contact.pk}/", {"event": "purchase"}, HTTP_HX_REQUEST="true"
    )
    body = only.content.decode()
    assert "purchase" in body and "page_view" not in body
    # The erase action sits in the danger zone, after the activity.
    assert page.index("Danger zone") > page.index("Activity")


def test_panels_are_404_to_outsiders(owner, contact, outsider):
    for panel in ("value", "messages", "journeys"):
        assert outsider.web.get(f"/w/acme/contacts/{contact.pk}/{panel}/").status_code == 404
        assert outsider.web.get(f"/w/globex/contacts/{contact.pk}/{panel}/").status_code == 404
