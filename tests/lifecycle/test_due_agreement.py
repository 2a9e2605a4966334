"""Due moments agree with full evaluation (docs/rules.md, "Due moments").

Hypothesis generates worlds (contacts with events, purchases, date attributes, event
properties holding dates, stays in a stage, messages opened) and rules built from
every time-based condition, then proves:
  - for each rule, at any clock between now and a contact's due moment (just before
    it included), the rule says of the contact what it says now: the due moment is
    never late;
  - for random stage rule sets and random increasing clocks, a sweep now and then only
    the due runs leave nobody the full evaluation (the engine's CASE over every
    contact) would move, and each due run evaluates exactly the contacts due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.rules import Scope, matching_ids
from contacts.rules.due import due_candidates
from contacts.services import event_summaries_refresh
from lifecycle.models import ContactDue, ContactStage
from lifecycle.services.due import contacts_due_store, due_contacts_evaluate
from lifecycle.services.evaluation import stages_movers
from lifecycle.services.sweeps import sweep_now
from tests.factories import ContactFactory, MessageFactory, StageFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
MICRO = dt.timedelta(microseconds=1)
HOUR = dt.timedelta(hours=1)
NAMES = ["purchase", "page_view", "order"]

days = st.sampled_from([1, 2, 7, 30, 90])
relative = st.sampled_from(["within_last_days", "more_than_days_ago"])
comparisons = st.sampled_from(
    [
        {"gte": 1},
        {"gte": 2},
        {"gt": 2},
        {"lt": 3},
        {"lte": 1},
        {"eq": 2},
        {"neq": 1},
        {"eq": 0},
        {"gte": 2, "lt": 4},
    ]
)


event_leaves = st.one_of(
    # first / last from the summaries
    st.builds(
        lambda n, k, r: {"event": n, k: r},
        st.sampled_from(NAMES),
        st.sampled_from(["first", "last"]),
        st.dictionaries(
            st.sampled_from(["older_than_days", "within_days"]), days, min_size=1, max_size=1
        ),
    ),
    # counts in a window
    st.builds(
        lambda n, c, d: {"event": n, "count": c, "within_days": d},
        st.sampled_from(NAMES),
        comparisons,
        days,
    ),
    # first / last within a window
    st.builds(
        lambda n, d, k, r: {"event": n, "within_days": d, k: r},
        st.sampled_from(NAMES),
        days,
        st.sampled_from(["first", "last"]),
        st.dictionaries(
            st.sampled_from(["older_than_days", "within_days"]), days, min_size=1, max_size=1
        ),
    ),
    # a property holding a date, compared with the clock
    st.builds(
        lambda op, v, w: {
            "event": "page_view",
            **w,
            "where": [{"property": "due", "op": op, "value": v}],
        },
        relative,
        days,
        st.sampled_from([{}, {"within_days": 30}]),
    ),
    st.builds(lambda c, d: {"purchases": c, "within_days": d}, comparisons, days),
    st.builds(lambda d: {"revenue": {"gte": 30}, "within_days": d}, days),
    st.builds(lambda op, v: {"attr": "renewal", "op": op, "value": v}, relative, days),
    st.builds(lambda op, v: {"field": "created_at", "op": op, "value": v}, relative, days),
)
# Conditions on the stay and on messages: for rules read on their own (a stage rule on
# days in stage moves the contact and so changes what it reads).
other_leaves = st.one_of(
    st.builds(
        lambda op, v: {"field": "days_in_stage", "op": op, "value": v},
        st.sampled_from(["gte", "gt", "lt", "lte", "eq"]),
        days,
    ),
    st.builds(lambda d: {"message": "opened", "within_days": d}, days),
)


def rules_of(leaves: Any) -> Any:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda c: {"not": c}, children),
        ),
        max_leaves=4,
    )


# Moments around T0, on whole minutes, so a boundary can fall exactly between clocks.
offsets = st.integers(min_value=-200 * 24 * 60, max_value=0).map(
    lambda m: m * dt.timedelta(minutes=1)
)


@st.composite
def worlds(draw: Any) -> list[dict[str, Any]]:
    contacts = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        events = draw(
            st.lists(
                st.tuples(st.sampled_from(NAMES), offsets, st.one_of(st.none(), offsets)),
                max_size=8,
            )
        )
        contacts.append(
            {
                "created": T0 + draw(offsets),
                "renewal": draw(st.one_of(st.none(), offsets.map(lambda o: o + 100 * 24 * HOUR))),
                "events": events,
                "entered": T0 + draw(offsets),
                "opened": [T0 + o for o in draw(st.lists(offsets, max_size=3))],
                "pinned_days": draw(st.one_of(st.none(), st.integers(1, 60))),
            }
        )
    return contacts


def build(ws: Any, world: list[dict[str, Any]], stage: Any = None) -> list[int]:
    ids = []
    for spec in world:
        attributes = {}
        if spec["renewal"] is not None:
            attributes["renewal"] = (T0 + spec["renewal"]).isoformat()
        contact = ContactFactory.create(
            workspace=ws,
            attributes=attributes,
            created_at=spec["created"],
            signed_up_at=spec["created"],
        )
        for name, offset, due in spec["events"]:
            contact.events.create(
                workspace=ws,
                name=name,
                occurred_at=T0 + offset,
                revenue=Decimal("25") if name == "purchase" else None,
                properties={} if due is None else {"due": (T0 + due + 60 * 24 * HOUR).isoformat()},
            )
        for opened in spec["opened"]:
            MessageFactory.create(contact=contact, sent_at=opened, opened_at=opened)
        if stage is not None:
            ContactStage.objects.create(
                contact=contact, workspace=ws, stage=stage, entered_at=spec["entered"]
            )
        ids.append(contact.pk)
    event_summaries_refresh(contact_ids=ids)
    return ids


def dues(rules: list[dict[str, Any]], ws: Any, now: dt.datetime) -> dict[int, dt.datetime]:
    found = due_candidates(rules, workspace=ws, now=now, scope=Scope.everyone())
    if found is None:
        return {}
    sql, params = found
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_id, min(m) FROM ({sql}) c WHERE m > %s GROUP BY contact_id",
            [*params, now],
        )
        return dict(cursor.fetchall())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    rule=rules_of(st.one_of(event_leaves, other_leaves)),
    fractions=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=3),
)
def test_a_rule_keeps_its_answer_until_the_due_moment(ws, world, rule, fractions):
    with transaction.atomic():
        holder = StageFactory.create(workspace=ws, key="holder", rule=None, is_default=True)
        ids = build(ws, world, stage=holder)
        due = dues([rule], ws, T0)
        now_matching = matching_ids(rule, workspace=ws, contact_ids=ids, now=T0)
        for contact_id in ids:
            end = due.get(contact_id, T0 + dt.timedelta(days=400))
            # (timedelta * float rounds to the microsecond: keep it before the moment)
            clocks = [end - MICRO, *(min(end - MICRO, T0 + (end - T0) * f) for f in fractions)]
            for clock in clocks:
                later = matching_ids(rule, workspace=ws, contact_ids=[contact_id], now=clock)
                assert (contact_id in later) == (contact_id in now_matching), (
                    f"contact {contact_id} changed at {clock} before its due moment "
                    f"{due.get(contact_id)} under {rule}"
                )
        transaction.set_rollback(True)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    stage_rules=st.lists(rules_of(event_leaves), min_size=1, max_size=3),
    steps=st.lists(st.integers(min_value=1, max_value=60 * 24 * 60), min_size=1, max_size=5),
)
def test_due_runs_agree_with_full_evaluation_at_random_clocks(ws, world, stage_rules, steps):
    with transaction.atomic():
        for position, rule in enumerate(stage_rules):
            StageFactory.create(workspace=ws, key=f"s{position}", position=position, rule=rule)
        StageFactory.create(workspace=ws, key="rest", position=99, rule=None, is_default=True)
        ids = build(ws, world)
        sweep_now(workspace=ws, now=T0)
        for contact_id, spec in zip(ids, world, strict=True):
            if spec["pinned_days"] is not None:
                until = T0 + dt.timedelta(days=spec["pinned_days"])
                ContactStage.objects.filter(contact_id=contact_id).update(
                    pinned=True, pinned_until=until
                )
        # A pin changes the due moment (a manual move marks the contact; here, directly).
        contacts_due_store(workspace=ws, scope=Scope.of(ids), now=T0)
        clock = T0
        for minutes in steps:
            clock += dt.timedelta(minutes=minutes)
            due_now = set(
                ContactDue.objects.filter(workspace=ws, due_at__lte=clock).values_list(
                    "contact_id", flat=True
                )
            )
            evaluated, _ = due_contacts_evaluate(now=clock, workspace_ids=[ws.pk])
            assert evaluated == len(due_now)
            assert stages_movers(workspace=ws, scope=Scope.everyone(), now=clock) == [], (
                f"the full evaluation at {clock} moves contacts the due runs left: {stage_rules}"
            )
        transaction.set_rollback(True)
