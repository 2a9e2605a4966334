"""The compiler's joined form (contacts.rules.joins: the event summaries read through
one LEFT JOIN per event name, as the rule what-if evaluates a workspace) agrees with
the plain-Python reference over raw events, as the sub-query form does
(test_rules_agreement.py), for generated rules and worlds and for rules that put
several conditions, negations and windows on one event name."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from contacts.rules import Scope, compile_rule
from contacts.rules.joins import SummaryJoins
from contacts.services import event_summaries_refresh
from lifecycle.defaults import DEFAULT_STAGES
from tests.contacts.rules_reference import World, matching
from tests.contacts.test_rules_agreement import (
    NOW,
    _build,
    _with_segment,
    event_leaf,
    money_leaf,
    rules,
    worlds,
)
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


def joined_ids(rule: Any, ws: Any, scope: Scope) -> tuple[set[int], str, SummaryJoins]:
    """The contacts in scope that match, by the joined form; its SQL and joins."""
    joins = SummaryJoins(workspace_id=ws.pk, scope=scope)
    condition = compile_rule(rule, workspace=ws, now=NOW, scope=scope, summary_joins=joins)
    queryset = Contact.objects.filter(scope.limit("pk"), workspace=ws).filter(condition)
    try:
        sql, params = joins.attach(*queryset.values("id").query.sql_with_params())
    except EmptyResultSet:  # a condition Django knows matches nobody (name__in=[])
        return set(), "", joins
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}, sql, joins


def _purchase_names(ws: Any, world: World, names: list[str]) -> None:
    ws.purchase_event_names = names
    ws.save(update_fields=["purchase_event_names"])
    world.purchase_names = names


# Rules of event and money conditions only: several on one name in most of them.
summary_rules = st.recursive(
    st.one_of(event_leaf(), money_leaf),
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=8,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    spec=worlds(),
    rule=st.one_of(rules, summary_rules),
    names=st.sampled_from([["purchase"], ["purchase", "order"], ["order"]]),
)
def test_joined_form_and_reference_agree(ws, spec, rule, names):
    with transaction.atomic():
        world = _build(ws, spec)
        _purchase_names(ws, world, names)
        rule = _with_segment(rule, next(iter(world.segments)))
        expected = matching(rule, world)
        ids = [c.id for c in world.contacts]
        everyone, _, _ = joined_ids(rule, ws, Scope.everyone())
        ranged, _, _ = joined_ids(rule, ws, Scope.between(min(ids), max(ids)))
        assert everyone == expected, (rule, everyone, expected)
        assert ranged == expected
        transaction.set_rollback(True)


# Several conditions on one name, under `not`, mixed with windows (which read the raw
# events) and with purchase counts and revenue, which read the same summary rows.
SAME_NAME_RULES: list[dict[str, Any]] = [
    {
        "all": [
            {"event": "purchase", "last": {"within_days": 60}},
            {"not": {"event": "purchase", "count": {"gte": 3}}},
            {"purchases": {"gte": 1}},
            {"event": "purchase", "first": {"older_than_days": 30}},
        ]
    },
    {
        "any": [
            {"event": "purchase", "first": {"older_than_days": 100}, "last": {"within_days": 10}},
            {"not": {"event": "page_view", "count": {"lt": 2}}},
            {"not": {"event": "purchase", "last": {"older_than_days": 20}}},
        ]
    },
    {
        "all": [
            {"event": "page_view", "count": {"gte": 2}, "within_days": 30},
            {"event": "page_view", "count": {"neq": 3}},
            {"not": {"event": "page_view", "last": {"within_days": 2}}},
        ]
    },
    {"not": {"revenue": {"lt": 30}}},
    {"any": [{"revenue": {"eq": 25}}, {"purchases": {"eq": 2}}]},
    {"not": {"purchases": {"lt": 3}}},
    {"any": [{"revenue": {"gte": 9.99}}, {"purchases": {"eq": 0}}]},
    {"all": [{"purchases": {"gte": 2}}, {"purchases": {"gte": 2}, "within_days": 45}]},
    {"not": {"event": "trial_started", "count": {"eq": 0}, "last": {"within_days": 5}}},
]


@pytest.mark.parametrize("rule", SAME_NAME_RULES)
@pytest.mark.parametrize("names", [["purchase"], ["purchase", "order"]])
def test_several_conditions_on_one_name_read_one_row(ws, rule, names):
    spec: dict[str, list[Any]] = {"contacts": []}
    # Contacts with 0 to 4 purchases (some without revenue, some refunds of 0.00),
    # page views and orders spread over 200 days.
    for i in range(12):
        events: list[dict[str, Any]] = [
            {
                "name": "purchase",
                "hours_ago": 24 * (7 + 23 * k + i) + 0.5,
                "properties": {},
                "revenue": None if (i + k) % 5 == 0 else ["9.99", "25.00", "0.00"][(i + k) % 3],
            }
            for k in range(i % 5)
        ]
        events += [
            {"name": "page_view", "hours_ago": 24 * (1 + 9 * k + i) + 0.5, "properties": {}}
            for k in range(i % 4 + 1)
        ]
        if i % 3 == 0:
            events.append({"name": "order", "hours_ago": 24 * i + 0.5, "properties": {}})
        spec["contacts"].append(
            {
                "email": None,
                "first_name": "",
                "time_zone": "",
                "email_status": "subscribed",
                "created_hours_ago": 24 * 300 + 0.5,
                "attributes": {},
                "stage": None,
                "stage_hours_ago": 0.5,
                "events": [{"revenue": None, **e} for e in events],
            }
        )
    world = _build(ws, spec)
    _purchase_names(ws, world, names)
    expected = matching(rule, world)
    found, sql, joins = joined_ids(rule, ws, Scope.everyone())
    assert found == expected
    # One join per summarised name, and no summary sub-query left.
    assert sql.count('LEFT JOIN (SELECT "contact_id"') == len(joins.aliases)
    assert '"contacts_eventsummary" U' not in sql


def test_without_purchase_names_nobody_has_purchases(ws):
    """A workspace with no purchase event names: every contact has 0 purchases and
    no revenue, as the sub-query form says (and no join is made for them)."""
    ws.purchase_event_names = []
    ws.save(update_fields=["purchase_event_names"])
    contact = ContactFactory.create(workspace=ws)
    EventFactory.create(workspace=ws, contact=contact, name="purchase", revenue="10.00")
    event_summaries_refresh(contact_ids=[contact.pk])
    for rule, matches in (({"purchases": {"eq": 0}}, True), ({"revenue": {"gt": 0}}, False)):
        found, _, joins = joined_ids(rule, ws, Scope.everyone())
        assert found == ({contact.pk} if matches else set())
        assert joins.aliases == {}


def test_attach_refuses_sql_it_cannot_place_joins_in():
    with pytest.raises(ValueError, match="one query on contacts_contact"):
        SummaryJoins(workspace_id=1).attach('SELECT 1 FROM "contacts_event" WHERE true', [])


def test_the_default_stages_read_each_summarised_name_once(ws):
    """The default stage rules put seven conditions on `purchase`: compiled together
    they join one summary row per contact for each name, and no summary sub-query."""
    ws.purchase_event_names = ["purchase"]
    ws.save(update_fields=["purchase_event_names"])
    scope = Scope.between(1, 1000)
    joins = SummaryJoins(workspace_id=ws.pk, scope=scope)
    whens = [
        When(compile_rule(rule, workspace=ws, now=NOW, scope=scope, summary_joins=joins), then=i)
        for i, (_, _, _, _, rule) in enumerate(DEFAULT_STAGES)
        if rule
    ]
    queryset = Contact.objects.filter(workspace=ws).annotate(
        stage=Case(*whens, default=Value(-1), output_field=IntegerField())
    )
    sql, _ = joins.attach(*queryset.values("id", "stage").query.sql_with_params())
    assert list(joins.aliases) == ["referral_sent", "purchase", "trial_started", "cart_abandoned"]
    assert sql.count('LEFT JOIN (SELECT "contact_id"') == 4
    assert '"contacts_eventsummary" U' not in sql
