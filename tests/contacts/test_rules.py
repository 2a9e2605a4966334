"""The rule language: every node and operator on known data, and bad rules refused
with the path of the bad node."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from config.errors import InvalidInput
from contacts.rules import contacts_matching, matching_count, rule_errors, validate_rule
from contacts.services import event_summaries_refresh
from tests.factories import ContactFactory, EventFactory, SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(ws):
    ada = ContactFactory.create(
        workspace=ws,
        email="ada@example.com",
        first_name="Ada",
        phone="+14155550100",
        time_zone="Europe/London",
        attributes={
            "plan": "Pro",
            "seats": 12,
            "vip": True,
            "renewal": "2026-01-10",
            "tags": ["beta", "b2b"],
        },
    )
    bob = ContactFactory.create(
        workspace=ws,
        email="bob@example.com",
        first_name="Bob",
        email_status="unsubscribed",
        attributes={"plan": "free", "seats": 1, "vip": False, "renewal": "not a date"},
    )
    cy = ContactFactory.create(
        workspace=ws, email=None, external_id="cy", first_name="Cy", attributes={}
    )
    EventFactory.ago(
        2,
        contact=ada,
        name="purchase",
        revenue=Decimal("30.00"),
        properties={"sku": "kit", "qty": 2},
    )
    EventFactory.ago(
        100,
        contact=ada,
        name="purchase",
        revenue=Decimal("80.00"),
        properties={"sku": "beans", "qty": 1},
    )
    EventFactory.ago(200, contact=bob, name="purchase", revenue=Decimal("15.00"))
    for days in (1, 3, 5):
        EventFactory.ago(days, contact=cy, name="page_view", properties={"path": "/shop"})
    event_summaries_refresh(contact_ids=[ada.pk, bob.pk, cy.pk])
    return {"ada": ada, "bob": bob, "cy": cy}


def who(ws, rule) -> set[str]:
    names = {c.pk: c.first_name.lower() for c in contacts_matching(rule, workspace=ws)}
    return set(names.values())


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "email", "op": "eq", "value": "ADA@example.com"}, {"ada"}),
        ({"field": "email", "op": "neq", "value": "ada@example.com"}, {"bob", "cy"}),
        ({"field": "email", "op": "exists", "value": False}, {"cy"}),
        ({"field": "first_name", "op": "in", "value": ["Ada", "Cy"]}, {"ada", "cy"}),
        ({"field": "email", "op": "contains", "value": "EXAMPLE"}, {"ada", "bob"}),
        ({"field": "first_name", "op": "starts_with", "value": "b"}, {"bob"}),
        ({"field": "time_zone", "op": "exists"}, {"ada"}),
        ({"field": "email_status", "op": "eq", "value": "unsubscribed"}, {"bob"}),
        ({"field": "created_at", "op": "within_last_days", "value": 1}, {"ada", "bob", "cy"}),
        ({"field": "created_at", "op": "more_than_days_ago", "value": 1}, set()),
        ({"attr": "plan", "op": "eq", "value": "Pro"}, {"ada"}),
        ({"attr": "plan", "op": "neq", "value": "Pro"}, {"bob", "cy"}),
        ({"attr": "plan", "op": "in", "value": ["free", "team"]}, {"bob"}),
        ({"attr": "plan", "op": "contains", "value": "r"}, {"ada", "bob"}),
        ({"attr": "tags", "op": "contains", "value": "b2b"}, {"ada"}),
        ({"attr": "plan", "op": "starts_with", "value": "p"}, {"ada"}),
        ({"attr": "seats", "op": "gt", "value": 5}, {"ada"}),
        ({"attr": "seats", "op": "lte", "value": 1}, {"bob"}),
        ({"attr": "plan", "op": "gt", "value": 0}, set()),  # strings never compare as numbers
        ({"attr": "vip", "op": "is_true"}, {"ada"}),
        ({"attr": "vip", "op": "is_false"}, {"bob"}),
        ({"attr": "vip", "op": "exists"}, {"ada", "bob"}),
        ({"attr": "vip", "op": "exists", "value": False}, {"cy"}),
        ({"attr": "renewal", "op": "before", "value": "2026-02-01"}, {"ada"}),
        ({"attr": "renewal", "op": "after", "value": "2025-12-31T23:00:00+00:00"}, {"ada"}),
        ({"not": {"attr": "renewal", "op": "before", "value": "2030-01-01"}}, {"bob", "cy"}),
        ({"event": "purchase"}, {"ada", "bob"}),
        ({"not": {"event": "purchase"}}, {"cy"}),
        ({"event": "purchase", "count": {"gte": 2}}, {"ada"}),
        ({"event": "purchase", "count": {"eq": 0}}, {"cy"}),
        ({"event": "purchase", "count": {"lt": 2}}, {"bob", "cy"}),
        ({"event": "purchase", "within_days": 30}, {"ada"}),
        ({"event": "page_view", "count": {"gte": 3}, "within_days": 4}, set()),
        ({"event": "page_view", "count": {"gte": 3}, "within_days": 6}, {"cy"}),
        (
            {"event": "purchase", "where": [{"property": "sku", "op": "eq", "value": "beans"}]},
            {"ada"},
        ),
        ({"event": "purchase", "where": [{"property": "qty", "op": "gte", "value": 2}]}, {"ada"}),
        ({"event": "purchase", "last": {"older_than_days": 90}}, {"bob"}),
        ({"event": "purchase", "first": {"older_than_days": 90}}, {"ada", "bob"}),
        ({"event": "purchase", "last": {"within_days": 7}}, {"ada"}),
        ({"revenue": {"gte": 100}}, {"ada"}),
        ({"revenue": {"lt": 20}}, {"bob", "cy"}),
        ({"revenue": {"gte": 30}, "within_days": 30}, {"ada"}),
        ({"purchases": {"eq": 1}}, {"bob"}),
        ({"purchases": {"gte": 1}, "between": ["2020-01-01", "2030-01-01"]}, {"ada", "bob"}),
        (
            {"all": [{"attr": "plan", "op": "eq", "value": "Pro"}, {"revenue": {"gte": 100}}]},
            {"ada"},
        ),
        (
            {"any": [{"attr": "plan", "op": "eq", "value": "free"}, {"event": "page_view"}]},
            {"bob", "cy"},
        ),
        # Leaves on one event's summary row, merged into one sub-query (the zero-passing
        # `lt` is not: contacts without the event pass it).
        (
            {
                "all": [
                    {"event": "purchase", "count": {"gte": 1}},
                    {"event": "purchase", "first": {"older_than_days": 90}},
                    {"event": "purchase", "last": {"within_days": 7}},
                ]
            },
            {"ada"},
        ),
        (
            {
                "all": [
                    {"event": "purchase", "count": {"lt": 2}},
                    {"event": "purchase", "first": {"older_than_days": 90}},
                ]
            },
            {"bob"},
        ),
        (
            {
                "all": [
                    {"event": "purchase", "count": {"gte": 2}},
                    {"not": {"event": "purchase", "last": {"within_days": 1}}},
                    {"event": "purchase", "last": {"older_than_days": 1}},
                ]
            },
            {"ada"},
        ),
        ({"all": []}, {"ada", "bob", "cy"}),
        ({"any": []}, set()),
    ],
)
def test_operators(ws, people, rule, expected):
    validate_rule(rule, workspace=ws)
    assert who(ws, rule) == expected


def test_segments_nest_and_follow_their_rule(ws, people):
    buyers = SegmentFactory.create(workspace=ws, name="buyers", rule={"event": "purchase"})
    big = SegmentFactory.create(
        workspace=ws, name="big", rule={"all": [{"segment": buyers.pk}, {"revenue": {"gte": 50}}]}
    )
    assert who(ws, {"segment": big.pk}) == {"ada"}
    assert who(ws, {"not": {"segment": buyers.pk}}) == {"cy"}
    buyers.rule = {"event": "page_view"}
    buyers.save()
    assert who(ws, {"segment": buyers.pk}) == {"cy"}


@pytest.mark.parametrize(
    ("rule", "path", "reason"),
    [
        ([], "rule", "must be an object"),
        ({"every": []}, "rule", "no known condition"),
        ({"all": {"field": "email"}}, "all", "must be a list"),
        (
            {
                "all": [
                    {"attr": "plan", "op": "eq", "value": "pro"},
                    {"event": "purchase"},
                    {"event": "purchase", "count": 2},
                ]
            },
            "all[2].event.count",
            "must be an object",
        ),
        (
            {"all": [{"event": "purchase", "count": {"gte": -1}}]},
            "all[0].event.count.gte",
            "0 or more",
        ),
        ({"any": [{"field": "favourite"}]}, "any[0].field", "unknown field"),
        ({"field": "email_status", "op": "eq", "value": "maybe"}, "field.value", "not one of"),
        ({"field": "email", "op": "gt", "value": 3}, "field.op", "does not apply"),
        ({"attr": "9lives", "op": "exists"}, "attr", "attribute name"),
        ({"attr": "plan", "op": "is_true", "value": 1}, "attr.value", "takes no value"),
        ({"attr": "seats", "op": "gt", "value": "many"}, "attr.value", "must be a number"),
        ({"attr": "plan", "op": "in", "value": []}, "attr.value", "list of 1"),
        ({"attr": "renewal", "op": "before", "value": "next week"}, "attr.value", "ISO date"),
        ({"event": "purchase", "within_days": 0}, "event.within_days", "whole number"),
        (
            {"event": "purchase", "within_days": 5, "between": ["2026-01-01", "2026-02-01"]},
            "event",
            "not both",
        ),
        ({"event": "purchase", "between": ["2026-02-01", "2026-01-01"]}, "event.between", "before"),
        ({"event": "purchase", "last": {"ago": 5}}, "event.last", "older_than_days"),
        (
            {"event": "purchase", "where": [{"property": "sku", "op": "like", "value": "x"}]},
            "event.where[0].op",
            "use one of",
        ),
        ({"event": "purchase", "colour": "red"}, "event.colour", "unknown key"),
        ({"revenue": {"about": 5}}, "revenue", "must be an object"),
        ({"segment": 999999}, "segment", "no segment"),
        (
            {"not": {"not": {"not": {"attr": "x", "op": "zap"}}}},
            "not.not.not.attr.op",
            "use one of",
        ),
    ],
)
def test_bad_rules_name_the_path_of_the_bad_node(ws, rule, path, reason):
    errors = rule_errors(rule, workspace=ws)
    assert path in errors, errors
    assert reason in " ".join(errors[path])
    with pytest.raises(InvalidInput) as caught:
        validate_rule(rule, workspace=ws)
    assert f"rule.{path}" in caught.value.fields or path == "rule"


def test_segments_cannot_include_themselves(ws):
    one = SegmentFactory.create(workspace=ws, name="one", rule={"all": []})
    two = SegmentFactory.create(workspace=ws, name="two", rule={"segment": one.pk})
    errors = rule_errors({"any": [{"segment": two.pk}]}, workspace=ws, segment_id=one.pk)
    assert "themselves" in errors["any[0].segment"][0]


def test_a_segment_of_another_workspace_is_unknown(ws, outsider):
    theirs = SegmentFactory.create(workspace=outsider.workspace, name="x", rule={"all": []})
    assert "no segment" in rule_errors({"segment": theirs.pk}, workspace=ws)["segment"][0]


def test_rules_evaluate_at_a_given_moment(ws, people):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=100)
    rule = {"event": "purchase", "last": {"older_than_days": 90}}
    assert set(
        contacts_matching(rule, workspace=ws, now=later).values_list("first_name", flat=True)
    ) == {"Ada", "Bob"}


def test_huge_rules_are_refused(ws):
    rule = {"any": [{"attr": "plan", "op": "eq", "value": str(i)} for i in range(400)]}
    reasons = [r for rs in rule_errors(rule, workspace=ws).values() for r in rs]
    assert "at most 300" in " ".join(reasons)


def test_conditions_on_one_events_summary_read_it_once(ws, people):
    """A segment such as "2+ purchases, the last over 30 days ago" is one scan of the
    purchase summaries, not one per condition joined together."""
    rule = {
        "all": [
            {"attr": "plan", "op": "eq", "value": "Pro"},
            {"event": "purchase", "count": {"gte": 2}},
            {"event": "purchase", "last": {"older_than_days": 1}},
        ]
    }
    query = str(contacts_matching(rule, workspace=ws).query)
    assert query.count("contacts_eventsummary") == 1
    assert who(ws, rule) == {"ada"}


def test_a_count_is_the_rules_and_leaves_the_callers_planner_settings_alone(ws, people):
    rule = {"event": "purchase", "count": {"gte": 1}}
    expected = contacts_matching(rule, workspace=ws).count()
    assert expected > 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL random_page_cost = 3.5")
        assert matching_count(contacts_matching(rule, workspace=ws)) == expected
        cursor.execute("SELECT current_setting('random_page_cost')")
        assert cursor.fetchone() == ("3.5",)
