"""Points in the rule language: the set of contacts a rule matches and the answer for
one contact agree, and a contact without points counts as a balance of 0."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from config.errors import InvalidInput
from contacts.rules import Scope, contacts_matching, validate_rule
from loyalty.models import Programme
from loyalty.services import points_adjust
from loyalty.services.tiers import tier_create
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, balance, ingest, programme, purchase

pytestmark = pytest.mark.django_db


def _ids(rule, ws, scope=None):
    return set(contacts_matching(rule, workspace=ws, scope=scope).values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gte", 100, {"rich"}),
        ("lt", 100, {"none", "zeroed", "some"}),
        ("eq", 0, {"none", "zeroed"}),
        ("neq", 0, {"some", "rich"}),
        ("in", [0, 50], {"none", "zeroed", "some"}),
        ("gt", -1, {"none", "zeroed", "some", "rich"}),
        ("exists", True, {"zeroed", "some", "rich"}),
    ],
)
def test_points_balance(ws, outsider, op, value, expected):
    people = {
        name: ContactFactory.create(workspace=ws) for name in ("none", "zeroed", "some", "rich")
    }
    for name, points in (("zeroed", 10), ("some", 50), ("rich", 150)):
        points_adjust(
            contact=people[name],
            data={"points": points, "reason": "t", "idempotency_key": name},
            actor=ACTOR,
        )
    points_adjust(
        contact=people["zeroed"],
        data={"points": -10, "reason": "t", "idempotency_key": "zero"},
        actor=ACTOR,
    )
    theirs = ContactFactory.create(workspace=outsider.workspace)
    points_adjust(
        contact=theirs, data={"points": 500, "reason": "t", "idempotency_key": "x"}, actor=ACTOR
    )
    rule = {"field": "points_balance", "op": op, "value": value}
    validate_rule(rule, workspace=ws)
    want = {people[name].pk for name in expected}
    assert _ids(rule, ws) == want
    for contact in people.values():  # one contact at a time, as on an event
        assert _ids(rule, ws, Scope.of([contact.pk])) == want & {contact.pk}


def _earned_programme(ws):
    """A programme switched on a year ago, so back-dated purchases earn."""
    programme(ws, points_per_unit="1")
    Programme.objects.filter(workspace=ws).update(
        enabled_at=timezone.now() - dt.timedelta(days=400)
    )


def _bought(contact, revenue, days_ago):
    at = (timezone.now() - dt.timedelta(days=days_ago)).isoformat()
    return purchase(contact, revenue, occurred_at=at)


def test_points_earned_in_a_window_reads_the_ledger_by_when_it_happened(ws, outsider):
    _earned_programme(ws)
    recent, old, refunded, none = (ContactFactory.create(workspace=ws) for _ in range(4))
    ingest(
        ws,
        _bought(recent, "300", 10),
        _bought(recent, "250", 40),
        _bought(old, "900", 200),
        {**_bought(refunded, "600", 5), "properties": {"order_id": "A1"}},
        {**_bought(refunded, "-600", 3), "properties": {"order_id": "A1"}},
    )
    assert (balance(recent), balance(old), balance(refunded)) == (550, 900, 0)
    theirs = ContactFactory.create(workspace=outsider.workspace)
    _earned_programme(outsider.workspace)
    ingest(outsider.workspace, _bought(theirs, "999", 1))

    def matching(rule):
        validate_rule(rule, workspace=ws)
        want = _ids(rule, ws)
        for contact in (recent, old, refunded, none):  # one at a time agrees
            assert _ids(rule, ws, Scope.of([contact.pk])) == want & {contact.pk}
        return want

    assert matching({"points_earned": {"gte": 500}, "within_days": 90}) == {recent.pk}
    assert matching({"points_earned": {"gte": 250}, "within_days": 30}) == {recent.pk}
    assert matching({"points_earned": {"gte": 500}, "within_days": 365}) == {recent.pk, old.pk}
    # Nothing earned in the window counts as 0, a refund takes back what its order earned.
    assert matching({"points_earned": {"lt": 1}, "within_days": 90}) == {
        old.pk,
        refunded.pk,
        none.pk,
    }


def test_points_earned_window_is_checked(ws):
    for rule, path in (
        ({"points_earned": {"gte": "many"}, "within_days": 30}, "gte"),
        ({"points_earned": {"gte": 5}}, "within_days"),
        ({"points_earned": {"about": 5}, "within_days": 30}, ""),
    ):
        with pytest.raises(InvalidInput) as caught:
            validate_rule(rule, workspace=ws)
        assert path in str(caught.value.fields)


def test_tier_field_matches_the_contacts_tier_by_name(ws, outsider):
    _earned_programme(ws)
    tier_create(workspace=ws, data={"name": "Silver", "threshold": 100}, actor=ACTOR)
    tier_create(workspace=ws, data={"name": "Gold", "threshold": 1000}, actor=ACTOR)
    gold, silver, none = (ContactFactory.create(workspace=ws) for _ in range(3))
    ingest(ws, _bought(gold, "1500", 2), _bought(silver, "150", 2))
    rules = [
        ("eq", "Gold", {gold.pk}),
        ("neq", "Gold", {silver.pk, none.pk}),
        ("in", ["Gold", "Silver"], {gold.pk, silver.pk}),
        ("in", ["Silver"], {silver.pk}),
    ]
    for op, value, want in rules:
        rule = {"field": "tier", "op": op, "value": value}
        validate_rule(rule, workspace=ws)
        assert _ids(rule, ws) == want, (op, value)
        for contact in (gold, silver, none):
            assert _ids(rule, ws, Scope.of([contact.pk])) == want & {contact.pk}


def test_the_rule_builder_is_offered_the_windowed_counts(owner):
    catalog = owner.web.get("/w/acme/rules/catalog.json").json()
    counts = {count["key"]: count for count in catalog["counts"]}
    assert set(counts) == {"points_earned", "referrals_sent", "referrals_converted"}
    earned = counts["points_earned"]
    assert (earned["window"], earned["max_days"], earned["unit"]) == ("required", 3650, "points")
    assert "neq" not in earned["ops"] and counts["referrals_sent"]["window"] == "optional"
    # What the builder writes for "at least 500 points in the last 90 days" is valid.
    validate_rule({"points_earned": {"gte": 500}, "within_days": 90}, workspace=owner.workspace)
