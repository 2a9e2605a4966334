"""Stored segment members equal the segment's rule evaluated live (the definition)
after any sequence of writes a user can make: contacts created and edited, events
recorded, erasures, rule edits, and time passing followed by the periodic refresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.figures.common import Filters
from contacts.models import Contact, Segment, SegmentMember
from contacts.rules import contacts_matching
from contacts.selectors import segment_count, segment_member_ids_sql
from contacts.services import (
    contact_create,
    contact_erase,
    contact_update,
    events_ingest,
    segment_create,
    segment_members_build,
    segment_members_due,
    segment_update,
)
from contacts.services import segment_members as segment_members_module
from contacts.services.segment_members import rule_drifts_with_time
from lifecycle.services import marked_contacts_evaluate
from workspaces.models import Workspace
from workspaces.services import Actor

pytestmark = pytest.mark.django_db
ACTOR = Actor(system="test")


def drain() -> None:
    while marked_contacts_evaluate():
        pass


def stored(segment: Segment) -> set[int]:
    return set(
        SegmentMember.objects.filter(workspace=segment.workspace, segment=segment).values_list(
            "contact_id", flat=True
        )
    )


def live(segment: Segment) -> set[int]:
    segment.refresh_from_db()
    return set(
        contacts_matching(segment.rule, workspace=segment.workspace, validate=False).values_list(
            "pk", flat=True
        )
    )


def via_selector(segment: Segment) -> set[int]:
    segment.refresh_from_db()
    sql, params = segment_member_ids_sql(segment)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def build_all(ws: Workspace) -> None:
    for pk in Segment.objects.filter(workspace=ws).values_list("pk", flat=True):
        assert segment_members_build(segment_id=pk)


def segments(ws: Workspace) -> dict[str, Segment]:
    plan = segment_create(
        workspace=ws,
        data={"name": "Pro", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    made = {
        "plan": plan,
        "recent": segment_create(
            workspace=ws,
            data={"name": "Bought lately", "rule": {"event": "purchase", "within_days": 30}},
            actor=ACTOR,
        ),
        "nested": segment_create(
            workspace=ws,
            data={
                "name": "Pro, never browsed",
                "rule": {"all": [{"segment": plan.pk}, {"not": {"event": "page_view"}}]},
            },
            actor=ACTOR,
        ),
        "subscribed": segment_create(
            workspace=ws,
            data={
                "name": "Subscribed",
                "rule": {"field": "email_status", "op": "eq", "value": "subscribed"},
            },
            actor=ACTOR,
        ),
    }
    return made


def assert_agree(ws: Workspace) -> None:
    for segment in Segment.objects.filter(workspace=ws):
        expected = live(segment)
        # Whatever state the stored rows are in, readers get the live answer.
        assert via_selector(segment) == expected, segment.name
        assert segment_count(segment) == len(expected), segment.name
        if segment.members_ready:
            assert stored(segment) == expected, segment.name
            assert segment.member_count == len(expected), segment.name


operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["pro", "free", None])),
        st.tuples(st.just("plan"), st.integers(0, 9), st.sampled_from(["pro", "free"])),
        st.tuples(st.just("unsubscribe"), st.integers(0, 9), st.just(None)),
        st.tuples(st.just("event"), st.integers(0, 9), st.sampled_from(["purchase", "page_view"])),
        st.tuples(st.just("old_purchase"), st.integers(0, 9), st.integers(20, 60)),
        st.tuples(st.just("erase"), st.integers(0, 9), st.just(None)),
        st.tuples(st.just("edit_rule"), st.sampled_from(["pro", "free"]), st.just(None)),
        st.tuples(st.just("time_passes"), st.integers(5, 40), st.just(None)),
    ),
    min_size=1,
    max_size=12,
)


def _apply(ws: Workspace, made: dict[str, Segment], op: tuple[Any, ...], n: list[int]) -> None:
    kind = op[0]
    contacts = list(Contact.objects.filter(workspace=ws).order_by("pk"))
    target = contacts[op[1] % len(contacts)] if contacts and isinstance(op[1], int) else None
    if kind == "create":
        n[0] += 1
        attributes = {"plan": op[1]} if op[1] else {}
        contact_create(
            workspace=ws,
            data={"email": f"c{n[0]}@example.com", "attributes": attributes},
            actor=ACTOR,
        )
    elif kind == "plan" and target:
        contact_update(contact=target, data={"attributes": {"plan": op[2]}}, actor=ACTOR)
    elif kind == "unsubscribe" and target:
        contact_update(contact=target, data={"email_status": "unsubscribed"}, actor=ACTOR)
    elif kind in ("event", "old_purchase") and target:
        name = op[2] if kind == "event" else "purchase"
        at = dt.datetime.now(dt.UTC) - dt.timedelta(days=0 if kind == "event" else op[2])
        result = events_ingest(
            workspace=ws,
            items=[{"contact": {"id": target.pk}, "name": name, "occurred_at": at.isoformat()}],
        )
        assert not result.errors
    elif kind == "erase" and target:
        contact_erase(contact=target, actor=ACTOR)
    elif kind == "edit_rule":
        plan = made["plan"]
        plan.refresh_from_db()
        segment_update(
            segment=plan,
            data={"rule": {"attr": "plan", "op": "eq", "value": op[1]}},
            actor=ACTOR,
        )
    elif kind == "time_passes":
        # The clock moving on is the data moving back: every event `days` older,
        # and nothing marks the contacts.
        shift = "make_interval(days => %s)"
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE contacts_event SET occurred_at = occurred_at - {shift} "
                "WHERE workspace_id = %s",
                [op[1], ws.pk],
            )
            cursor.execute(
                f"UPDATE contacts_eventsummary SET first_at = first_at - {shift}, "
                f"last_at = last_at - {shift} WHERE workspace_id = %s",
                [op[1], op[1], ws.pk],
            )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_stored_members_equal_the_live_rule(ws: Workspace, ops: list[tuple[Any, ...]]) -> None:
    with transaction.atomic():
        made = segments(ws)
        n = [0]
        for _ in range(3):
            _apply(ws, made, ("create", "pro"), n)
        drain()
        build_all(ws)
        assert_agree(ws)
        for op in ops:
            _apply(ws, made, op, n)
            drain()
            if op[0] != "time_passes":
                # Between writes and the workers catching up, readers are never wrong
                # (time alone is caught up by the periodic refresh: its bound).
                assert_agree(ws)
            # The workers: queued builds (edited rules) and the periodic refresh.
            for pk in segment_members_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)):
                segment_members_build(segment_id=pk)
            assert all(s.members_ready for s in Segment.objects.filter(workspace=ws))
            assert_agree(ws)
        transaction.set_rollback(True)


def test_a_new_segment_is_read_live_until_built(ws: Workspace) -> None:
    pro = contact_create(
        workspace=ws, data={"email": "p@example.com", "attributes": {"plan": "pro"}}, actor=ACTOR
    )
    drain()
    segment = segment_create(
        workspace=ws,
        data={"name": "Pro", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    assert not segment.members_ready
    sql, _ = segment_member_ids_sql(segment)
    assert "contacts_segmentmember" not in sql
    assert via_selector(segment) == {pro.pk}
    assert segment_members_build(segment_id=segment.pk)
    segment.refresh_from_db()
    sql, _ = segment_member_ids_sql(segment)
    assert "contacts_segmentmember" in sql
    assert (segment.member_count, via_selector(segment)) == (1, {pro.pk})
    # An analytics filter reads the stored rows.
    condition, params = Filters(segment=segment).contacts_sql(ws)
    assert "contacts_segmentmember" in condition and params == [ws.pk, segment.pk]


def test_a_stale_build_does_not_mark_an_edited_rule_ready(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact_create(workspace=ws, data={"email": "p@example.com"}, actor=ACTOR)
    segment = segment_create(
        workspace=ws,
        data={"name": "Pro", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    original = segment_members_module._sync

    def edited_meanwhile(*args: Any) -> tuple[int, int]:
        # The rule is edited while a build of the old one runs.
        Segment.objects.filter(pk=segment.pk).update(
            rule={"attr": "plan", "op": "eq", "value": "x"}
        )
        return original(*args)

    monkeypatch.setattr(segment_members_module, "_sync", edited_meanwhile)
    assert segment_members_build(segment_id=segment.pk) is False
    segment.refresh_from_db()
    assert not segment.members_ready
    monkeypatch.setattr(segment_members_module, "_sync", original)
    assert segment_members_build(segment_id=segment.pk)


def test_editing_a_used_segment_invalidates_its_users(ws: Workspace) -> None:
    made = segments(ws)
    build_all(ws)
    segment_update(
        segment=made["plan"],
        data={"rule": {"attr": "plan", "op": "eq", "value": "free"}},
        actor=ACTOR,
    )
    ready = dict(Segment.objects.filter(workspace=ws).values_list("name", "members_ready"))
    assert ready == {
        "Pro": False,
        "Pro, never browsed": False,
        "Bought lately": True,
        "Subscribed": True,
    }
    # A rename alone keeps the members.
    segment_update(segment=made["recent"], data={"name": "Bought in 30 days"}, actor=ACTOR)
    assert Segment.objects.get(pk=made["recent"].pk).members_ready


def test_which_rules_drift_with_time(ws: Workspace) -> None:
    made = segments(ws)
    drifts = {name: rule_drifts_with_time(s.rule, workspace=ws) for name, s in made.items()}
    assert drifts == {"plan": False, "recent": True, "nested": False, "subscribed": False}
    uses_recent = {"any": [{"segment": made["recent"].pk}]}
    assert rule_drifts_with_time(uses_recent, workspace=ws)
    assert rule_drifts_with_time({"field": "stage", "op": "eq", "value": "lead"}, workspace=ws)
    assert rule_drifts_with_time(
        {"field": "created_at", "op": "within_last_days", "value": 3}, workspace=ws
    )
    build_all(ws)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    assert segment_members_due(now=later) == [made["recent"].pk]
    assert segment_members_due() == []


def test_erasure_takes_the_contact_out(ws: Workspace, outsider: Any) -> None:
    made = segments(ws)
    contact = contact_create(
        workspace=ws, data={"email": "e@example.com", "attributes": {"plan": "pro"}}, actor=ACTOR
    )
    drain()
    build_all(ws)
    # Another workspace's segment of the same shape is untouched by ours.
    theirs = segment_create(
        workspace=outsider.workspace,
        data={"name": "Pro", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    assert segment_members_build(segment_id=theirs.pk)
    assert stored(made["plan"]) == {contact.pk}
    contact_erase(contact=contact, actor=ACTOR)
    made["plan"].refresh_from_db()
    assert (stored(made["plan"]), made["plan"].member_count) == (set(), 0)
    assert stored(theirs) == set()
