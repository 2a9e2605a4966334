"""The rule compiler agrees with itself and with a reference written for the test.

Hypothesis generates worlds (contacts with attributes, events, stages, segments) and
rules, then proves for each rule that:
  - the set query ("which contacts match", all of the workspace),
  - the sweep form (an id-range scope),
  - the point form (each contact asked on its own), and
  - the plain-Python reference evaluator over raw events (tests/contacts/rules_reference.py)
give the same contacts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.rules import Scope, contacts_matching, matching_ids
from contacts.services import event_summaries_refresh
from tests.contacts.rules_reference import RContact, REvent, World, matching
from tests.factories import (
    ContactFactory,
    ContactStageFactory,
    EventFactory,
    SegmentFactory,
    StageFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
EVENT_NAMES = ["purchase", "page_view", "trial_started", "order"]
ATTR_NAMES = ["plan", "score", "vip", "renewal", "tags"]
STAGE_KEYS = ["lead", "customer", "fan"]

# -- worlds ------------------------------------------------------------------------------

# Offsets in hours with a half hour added, so no generated time sits exactly on a day
# boundary of the rules' windows (float and numeric day arithmetic agree off the edge).
hours_ago = st.integers(min_value=0, max_value=24 * 200).map(lambda h: h + 0.5)
attr_values = st.one_of(
    st.sampled_from(
        ["pro", "free", "Basic", "pro-plus", "", "2026-07-01", "2025-01-15T08:00:00", "soon"]
    ),
    st.integers(min_value=-5, max_value=50),
    st.sampled_from([0.5, 2.0, 12.75]),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", "vip", 1, 2]), max_size=3),
)
properties = st.dictionaries(
    st.sampled_from(["sku", "qty", "channel"]),
    st.one_of(st.sampled_from(["x", "y", "email"]), st.integers(0, 5)),
    max_size=2,
)


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    contacts = []
    for _ in range(draw(st.integers(min_value=1, max_value=7))):
        contacts.append(
            {
                "email": draw(
                    st.one_of(
                        st.none(),
                        st.sampled_from(["ada@example.com", "grace@navy.mil", "alan@bletchley.uk"]),
                    )
                ),
                "first_name": draw(st.sampled_from(["Ada", "Grace", "alan", ""])),
                "time_zone": draw(st.sampled_from(["", "Europe/London", "America/New_York"])),
                "email_status": draw(st.sampled_from(["subscribed", "unsubscribed", "bounced"])),
                "created_hours_ago": draw(hours_ago),
                "attributes": draw(
                    st.dictionaries(st.sampled_from(ATTR_NAMES), attr_values, max_size=3)
                ),
                "stage": draw(st.one_of(st.none(), st.sampled_from(STAGE_KEYS))),
                "stage_hours_ago": draw(hours_ago),
                "events": draw(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "name": st.sampled_from(EVENT_NAMES),
                                "hours_ago": hours_ago,
                                "properties": properties,
                                "revenue": st.one_of(
                                    st.none(), st.sampled_from(["9.99", "25.00", "0.00", "120.50"])
                                ),
                            }
                        ),
                        max_size=6,
                    )
                ),
            }
        )
    return {"contacts": contacts}


# -- rules ----------------------------------------------------------------------------------

# Comparisons that zero satisfies (contacts without any such event match them) are
# drawn as often as the others: they are where set logic most easily goes wrong.
cmp = st.one_of(
    st.sampled_from(
        [
            {"lt": 1},
            {"eq": 0},
            {"lte": 2},
            {"neq": 1},
            {"lt": 3, "gte": 0},
            {"gte": 1},
            {"gte": 2},
            {"eq": 1},
            {"gt": 1, "lte": 3},
        ]
    ),
    st.dictionaries(
        st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
        st.integers(min_value=0, max_value=4),
        min_size=1,
        max_size=2,
    ),
)
money_cmp = st.sampled_from(
    [{"gte": 0}, {"lt": 30}, {"eq": 0}, {"gte": 9.99}, {"gte": 100}, {"lt": 9.99}, {"eq": 25}]
)
days = st.integers(min_value=1, max_value=120)
recency = st.one_of(
    st.builds(lambda d: {"older_than_days": d}, days), st.builds(lambda d: {"within_days": d}, days)
)

attr_leaf = st.one_of(
    st.builds(
        lambda a, op, v: {"attr": a, "op": op, "value": v},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["eq", "neq"]),
        st.one_of(st.sampled_from(["pro", "free", "basic"]), st.integers(0, 12), st.booleans()),
    ),
    st.builds(
        lambda a, v: {"attr": a, "op": "in", "value": v},
        st.sampled_from(ATTR_NAMES),
        st.lists(
            st.one_of(st.sampled_from(["pro", "free"]), st.integers(0, 12)), min_size=1, max_size=3
        ),
    ),
    st.builds(
        lambda a, op, v: {"attr": a, "op": op, "value": v},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(-3, 20),
    ),
    st.builds(
        lambda a, op, v: {"attr": a, "op": op, "value": v},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["contains", "starts_with"]),
        st.sampled_from(["pro", "P", "vip", "a"]),
    ),
    st.builds(
        lambda a, op: {"attr": a, "op": op},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["is_true", "is_false"]),
    ),
    st.builds(
        lambda a, v: {"attr": a, "op": "exists", "value": v},
        st.sampled_from(ATTR_NAMES),
        st.booleans(),
    ),
    st.builds(
        lambda a, op, v: {"attr": a, "op": op, "value": v},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["before", "after"]),
        st.sampled_from(["2026-01-01", "2026-06-30T10:00:00+00:00"]),
    ),
    st.builds(
        lambda a, op, v: {"attr": a, "op": op, "value": v},
        st.sampled_from(ATTR_NAMES),
        st.sampled_from(["within_last_days", "more_than_days_ago"]),
        days,
    ),
)
field_leaf = st.one_of(
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        st.sampled_from(["email", "first_name", "time_zone"]),
        st.sampled_from(["eq", "neq", "contains", "starts_with"]),
        st.sampled_from(["ada@example.com", "Ada", "a", "Europe", "GRACE"]),
    ),
    st.builds(
        lambda f, v: {"field": f, "op": "exists", "value": v},
        st.sampled_from(["email", "time_zone"]),
        st.booleans(),
    ),
    st.builds(
        lambda op, v: {"field": "email_status", "op": op, "value": v},
        st.sampled_from(["eq", "neq"]),
        st.sampled_from(["subscribed", "bounced"]),
    ),
    st.builds(
        lambda op, v: {"field": "created_at", "op": op, "value": v},
        st.sampled_from(["within_last_days", "more_than_days_ago"]),
        days,
    ),
    st.builds(
        lambda op, v: {"field": "stage", "op": op, "value": v},
        st.sampled_from(["eq", "neq"]),
        st.sampled_from(STAGE_KEYS),
    ),
    st.builds(
        lambda v: {"field": "stage", "op": "in", "value": v},
        st.lists(st.sampled_from(STAGE_KEYS), min_size=1, max_size=2),
    ),
    st.builds(
        lambda op, v: {"field": "days_in_stage", "op": op, "value": v},
        st.sampled_from(["gt", "lte", "neq"]),
        st.integers(0, 30),
    ),
)


@st.composite
def event_leaf(draw: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"event": draw(st.sampled_from(EVENT_NAMES))}
    if draw(st.integers(0, 3)) > 0:
        node["count"] = draw(cmp)
    choice = draw(st.sampled_from(["none", "within", "between"]))
    if choice == "within":
        node["within_days"] = draw(days)
    elif choice == "between":
        node["between"] = ["2026-03-01", draw(st.sampled_from(["2026-05-01", "2026-07-01"]))]
    if draw(st.booleans()):
        node["where"] = [
            {
                "property": draw(st.sampled_from(["sku", "qty", "channel"])),
                "op": draw(st.sampled_from(["eq", "neq", "gte"])),
                "value": draw(st.sampled_from(["x", 2])),
            }
        ]
        if node["where"][0]["op"] == "gte":
            node["where"][0]["value"] = 2
    for key in ("first", "last"):
        if draw(st.integers(0, 3)) == 0:
            node[key] = draw(recency)
    return node


money_leaf = st.one_of(
    st.builds(lambda c: {"revenue": c}, money_cmp),
    st.builds(lambda c, d: {"revenue": c, "within_days": d}, money_cmp, days),
    st.builds(lambda c: {"purchases": c}, cmp),
    st.builds(lambda c, d: {"purchases": c, "within_days": d}, cmp, days),
)
leaves = st.one_of(
    event_leaf(),
    money_leaf,
    attr_leaf,
    field_leaf,
    event_leaf(),
    money_leaf,
    st.just({"segment": "SEGMENT"}),
)
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=6,
)


def _with_segment(rule: Any, segment_id: int) -> Any:
    if isinstance(rule, dict):
        if rule.get("segment") == "SEGMENT":
            return {"segment": segment_id}
        return {k: _with_segment(v, segment_id) for k, v in rule.items()}
    if isinstance(rule, list):
        return [_with_segment(r, segment_id) for r in rule]
    return rule


SEGMENT_RULE = {
    "any": [
        {"attr": "plan", "op": "eq", "value": "pro"},
        {"event": "purchase", "count": {"gte": 2}},
    ]
}


def _build(ws: Any, spec: dict[str, Any]) -> World:
    """Write the world to the database and describe it for the reference."""
    stages = {
        key: StageFactory.create(workspace=ws, key=key, name=key, position=i, rule={"any": []})
        for i, key in enumerate(STAGE_KEYS)
    }
    segment = SegmentFactory.create(workspace=ws, name="seg", rule=SEGMENT_RULE)
    world = World(
        now=NOW,
        contacts=[],
        events=[],
        segments={segment.pk: SEGMENT_RULE},
        purchase_names=["purchase", "order"],
    )
    used: set[str] = set()
    for i, c in enumerate(spec["contacts"]):
        if c["email"] in used:  # emails are unique in a workspace
            c["email"] = None
        used.add(c["email"])
        created = NOW - dt.timedelta(hours=c["created_hours_ago"])
        contact = ContactFactory.create(
            workspace=ws,
            email=c["email"],
            external_id=f"x{i}",
            first_name=c["first_name"],
            time_zone=c["time_zone"],
            email_status=c["email_status"],
            attributes=c["attributes"],
            created_at=created,
            updated_at=created,
        )
        entered = None
        if c["stage"]:
            entered = NOW - dt.timedelta(hours=c["stage_hours_ago"])
            ContactStageFactory.create(
                contact=contact, workspace=ws, stage=stages[c["stage"]], entered_at=entered
            )
        world.contacts.append(
            RContact(
                id=contact.pk,
                fields={
                    "email": contact.email,
                    "first_name": contact.first_name,
                    "time_zone": contact.time_zone,
                    "email_status": contact.email_status,
                    "created_at": created,
                    "updated_at": created,
                },
                attributes=c["attributes"],
                stage_key=c["stage"],
                stage_entered_at=entered,
            )
        )
        for e in c["events"]:
            at = NOW - dt.timedelta(hours=e["hours_ago"])
            revenue = Decimal(e["revenue"]) if e["revenue"] is not None else None
            EventFactory.create(
                workspace=ws,
                contact=contact,
                name=e["name"],
                occurred_at=at,
                properties=e["properties"],
                revenue=revenue,
            )
            world.events.append(REvent(contact.pk, e["name"], at, e["properties"], revenue))
    event_summaries_refresh(contact_ids=[c.id for c in world.contacts])
    return world


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(spec=worlds(), rule=rules)
def test_set_sweep_point_and_reference_agree(ws, spec, rule):
    ws.purchase_event_names = ["purchase", "order"]
    ws.save(update_fields=["purchase_event_names"])
    with transaction.atomic():
        world = _build(ws, spec)
        rule = _with_segment(rule, next(iter(world.segments)))
        expected = matching(rule, world)
        ids = [c.id for c in world.contacts]

        everyone = set(contacts_matching(rule, workspace=ws, now=NOW).values_list("pk", flat=True))
        swept = set(
            contacts_matching(
                rule, workspace=ws, now=NOW, scope=Scope.between(min(ids), max(ids))
            ).values_list("pk", flat=True)
        )
        batch = matching_ids(rule, workspace=ws, contact_ids=ids, now=NOW)
        one_by_one = {i for i in ids if matching_ids(rule, workspace=ws, contact_ids=[i], now=NOW)}

        assert everyone == expected, (rule, everyone, expected)
        assert swept == expected
        assert batch == expected
        assert one_by_one == expected
        transaction.set_rollback(True)
