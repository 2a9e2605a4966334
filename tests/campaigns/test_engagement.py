"""Engagement conditions in the rule language: received, opened, clicked — any message,
a broadcast's, a journey's or a template's — within N days, and their negation (the
sunset policy's "not engaged for 90 days"). The set answer and the one-contact answer
agree; bad nodes name their path; test sends never count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.rules import contact_matches, contacts_matching, rule_errors
from contacts.rules.describe import describe
from messaging.models import Origin
from tests.factories import ContactFactory, MessageFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(ws):
    now = timezone.now()
    template = TemplateFactory.create(workspace=ws, channel="email")
    other = TemplateFactory.create(workspace=ws, channel="email")
    fresh = ContactFactory.create(workspace=ws, email="fresh@example.com")
    stale = ContactFactory.create(workspace=ws, email="stale@example.com")
    silent = ContactFactory.create(workspace=ws, email="silent@example.com")
    tester = ContactFactory.create(workspace=ws, email="tester@example.com")
    MessageFactory.create(
        contact=fresh,
        template=template,
        sent_at=now - dt.timedelta(days=2),
        opened_at=now - dt.timedelta(days=2),
        clicked_at=now - dt.timedelta(days=1),
        origin_kind=Origin.BROADCAST,
        origin_id=77,
    )
    MessageFactory.create(
        contact=stale,
        template=other,
        sent_at=now - dt.timedelta(days=200),
        opened_at=now - dt.timedelta(days=199),
    )
    MessageFactory.create(contact=silent, template=template, sent_at=now - dt.timedelta(days=5))
    MessageFactory.create(
        contact=tester, template=template, sent_at=now, opened_at=now, clicked_at=now, is_test=True
    )
    return {
        "fresh": fresh,
        "stale": stale,
        "silent": silent,
        "tester": tester,
        "template": template,
    }


def _emails(ws, rule):
    return set(contacts_matching(rule, workspace=ws).values_list("email", flat=True))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"message": "opened", "within_days": 30}, {"fresh@example.com"}),
        ({"message": "opened"}, {"fresh@example.com", "stale@example.com"}),
        ({"message": "received", "within_days": 30}, {"fresh@example.com", "silent@example.com"}),
        ({"message": "clicked", "broadcast_id": 77}, {"fresh@example.com"}),
        ({"message": "clicked", "broadcast_id": 78}, set()),
        ({"message": "received", "channel": "sms"}, set()),
        (
            {"not": {"message": "opened", "within_days": 90}},
            {"stale@example.com", "silent@example.com", "tester@example.com"},
        ),
    ],
)
def test_engagement_matches_and_agrees_contact_by_contact(ws, people, rule, expected):
    assert _emails(ws, rule) == expected
    for key in ("fresh", "stale", "silent", "tester"):
        contact = people[key]
        assert contact_matches(rule, contact=contact) == (contact.email in expected), (key, rule)


def test_template_filter(ws, people):
    rule = {"message": "received", "template_id": people["template"].pk}
    assert _emails(ws, rule) == {"fresh@example.com", "silent@example.com"}


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"message": "liked"}, "message"),
        ({"message": "opened", "within_days": 0}, "message.within_days"),
        ({"message": "opened", "within_days": "30"}, "message.within_days"),
        ({"message": "opened", "channel": "fax"}, "message.channel"),
        ({"message": "opened", "broadcast_id": 1, "journey_id": 2}, "message.journey_id"),
        ({"message": "opened", "template_id": -1}, "message.template_id"),
        ({"message": "opened", "colour": "red"}, "message.colour"),
    ],
)
def test_bad_engagement_nodes_name_their_path(ws, rule, path):
    errors = rule_errors(rule, workspace=ws)
    assert path in errors, errors


def test_described_in_words():
    assert describe({"not": {"message": "opened", "channel": "email", "within_days": 90}}) == (
        "not opened an email in the last 90 days"
    )
