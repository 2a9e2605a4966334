"""Points in the rule language: the set of contacts a rule matches and the answer for
one contact agree, and a contact without points counts as a balance of 0."""

from __future__ import annotations

import pytest

from contacts.rules import Scope, contacts_matching, validate_rule
from loyalty.services import points_adjust
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR

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
