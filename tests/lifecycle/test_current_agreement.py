"""Marks whose data is current go through the set-based evaluation, and come out as the
replay would have written them (lifecycle/services/current.py, docs/rules.md).

Hypothesis generates worlds and stage rules from every time-based condition (as
test_due_agreement does), evaluates them up to T0, then brings news in rounds at
increasing clocks — events just now, a little before, long before (back-dated), at
the same moment, and edits with no event — and proves that the engine's path
(set-based for current contacts, replay for the rest) writes exactly the moves,
stays and due moments that replaying every marked contact from its `since` writes.
The paths through the engine's marks, one plain case each, are in
test_current_paths.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from contacts.models import Event
from contacts.rules import Scope
from contacts.services import event_summaries_refresh
from lifecycle.models import ContactDue, ContactStage, StageTransition
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.current import marks_current, stages_evaluate_marked
from lifecycle.services.due import contacts_due_store
from lifecycle.services.replay import stages_replay
from tests.factories import StageFactory
from tests.lifecycle.test_due_agreement import NAMES, T0, build, event_leaves, rules_of, worlds

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


class _Undo(Exception):
    pass


def snapshot(ws: Any, clock: dt.datetime) -> dict[str, Any]:
    """Everything a stage evaluation writes, without row ids or recording times. Of a
    pin, whether it holds at `clock` (the set-based statement clears a pin that has
    ended when it moves the contact; the replay leaves the ended pin's flag)."""
    stays = ContactStage.objects.filter(workspace=ws).values_list(
        "contact_id", "stage_id", "entered_at", "pinned", "pinned_until"
    )
    return {
        "moves": sorted(
            StageTransition.objects.filter(workspace=ws).values_list(
                "contact_id",
                "at",
                "from_stage_id",
                "to_stage_id",
                "cause",
                "event_id",
                "event_name",
            ),
            key=lambda row: (row[0], row[1], str(row[2]), row[3]),
        ),
        "stays": sorted(
            (contact, stage, entered, pinned and (until is None or until > clock))
            for contact, stage, entered, pinned, until in stays
        ),
        "dues": sorted(ContactDue.objects.filter(workspace=ws).values_list("contact_id", "due_at")),
    }


def outcome(ws: Any, clock: dt.datetime, run: Any) -> tuple[dict[str, Any], Any]:
    """What `run` writes, rolled back."""
    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            result["value"] = run()
            result["state"] = snapshot(ws, clock)
            raise _Undo
    except _Undo:
        pass
    return result["state"], result["value"]


# Each piece of news: which contact, what, and how long before the clock it happened
# (0 and minutes: current; days: likely before the contact's last move or events).
news_items = st.tuples(
    st.integers(min_value=0, max_value=3),
    st.sampled_from([*NAMES, None]),  # None: an edit, no event
    st.sampled_from([0, 0, 0, 1, 2, 5, 9, 60, 2 * 24 * 60, 40 * 24 * 60, 150 * 24 * 60]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    stage_rules=st.lists(rules_of(event_leaves), min_size=1, max_size=3),
    rounds=st.lists(
        st.tuples(
            st.sampled_from([10, 10, 30, 6 * 60, 3 * 24 * 60, 40 * 24 * 60]),
            st.lists(news_items, min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_the_set_based_path_writes_what_the_replay_writes(ws, world, stage_rules, rounds):
    with transaction.atomic():
        ids = lives_up_to_t0(ws, world, stage_rules)
        clock = T0
        for minutes, news in rounds:
            clock += minutes * MINUTE
            news_round_agrees(ws, ids, clock, news)
        transaction.set_rollback(True)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    stage_rules=st.lists(rules_of(event_leaves), min_size=1, max_size=3),
    news=st.lists(
        st.lists(
            st.tuples(st.sampled_from(NAMES), st.sampled_from([0, 1, 2, 5, 9])),
            min_size=2,
            max_size=3,
        ),
        min_size=4,
        max_size=4,
    ),
)
def test_news_at_several_current_moments_is_replayed_from_since_as_in_full(
    ws, world, stage_rules, news
):
    """Every contact gets two or three events within the last minutes (as under
    sustained ingest), mostly at several moments."""
    with transaction.atomic():
        ids = lives_up_to_t0(ws, world, stage_rules)
        items = [(index, name, back) for index, own in enumerate(news) for name, back in own]
        news_round_agrees(ws, ids, T0 + 10 * MINUTE, items)
        transaction.set_rollback(True)


def lives_up_to_t0(ws: Any, world: list[dict[str, Any]], stage_rules: list[dict]) -> list[int]:
    """The stages, the contacts, and their lives up to T0 as draining their first
    marks leaves them (some pinned: some pins end before T0, some after)."""
    for position, rule in enumerate(stage_rules):
        StageFactory.create(workspace=ws, key=f"s{position}", position=position, rule=rule)
    StageFactory.create(workspace=ws, key="rest", position=99, rule=None, is_default=True)
    ids = build(ws, world)
    stages_replay(workspace=ws, since=dict.fromkeys(ids), now=T0)
    for contact_id, spec in zip(ids, world, strict=True):
        if spec["pinned_days"] is not None:
            until = T0 + dt.timedelta(days=spec["pinned_days"] - 10)
            ContactStage.objects.filter(contact_id=contact_id).update(
                pinned=True, pinned_until=until
            )
    contacts_due_store(workspace=ws, scope=Scope.of(ids), now=T0)
    return ids


def news_round_agrees(
    ws: Any, ids: list[int], clock: dt.datetime, news: list[tuple[int, str | None, int]]
) -> None:
    """Record the news (contact index, event name or None for an edit, minutes before
    the clock), check the engine's path writes what replaying every marked contact
    writes, then let the engine's path stand."""
    since: dict[int, dt.datetime | None] = {}
    for index, name, back in news:
        contact_id = ids[index % len(ids)]
        moment = clock - back * MINUTE
        if name is not None:
            Event.objects.create(
                workspace=ws,
                contact_id=contact_id,
                name=name,
                occurred_at=moment,
                revenue=Decimal("25") if name == "purchase" else None,
            )
        earlier = since.get(contact_id)
        since[contact_id] = moment if earlier is None else min(earlier, moment)
    event_summaries_refresh(contact_ids=list(since))
    scope = Scope.of(list(since))

    def engine() -> tuple[int, int]:
        found = stages_evaluate_marked(workspace=ws, since=since, now=clock)
        contacts_due_store(workspace=ws, scope=scope, now=clock)
        return found

    def replay() -> None:
        stages_replay(workspace=ws, since=since, now=clock)
        contacts_due_store(workspace=ws, scope=scope, now=clock)

    by_engine, (_, replayed) = outcome(ws, clock, engine)
    by_replay, _ = outcome(ws, clock, replay)
    paths = marks_current(
        workspace=ws,
        since={i: m for i, m in since.items() if m is not None},
        now=clock,
        stages=list(stages_for_workspace(workspace=ws)),
    ).values()
    if currently_in_test_context():
        event(f"one moment, set-based: {min(sum(c.single for c in paths), 2)}")
        event(f"several, replayed from since: {min(sum(not c.single for c in paths), 2)}")
        event(f"replayed in full: {min(replayed, 2)}")
    assert by_engine == by_replay, f"at {clock}, news {news}"
    engine()


def test_a_back_dated_view_at_the_moment_of_another_then_a_purchase(ws):
    """Hypothesis found this. Contact 0 is pinned at T0, so the rules' answer at its
    view of T0 ("at most one view in 30 days": no) is held; a news round then replays
    it from T0. A purchase 40 days on is replayed from then: its comparisons used to
    start at the last kept move, before the view of T0, so the window's end of the
    earlier view looked like a change and moved it, which the replay from T0 had not."""
    world: list[dict[str, Any]] = [
        {
            "created": T0,
            "renewal": None,
            "events": [
                ("page_view", dt.timedelta(days=-5, seconds=51240), None),
                ("page_view", dt.timedelta(0), None),
            ],
            "entered": T0,
            "opened": [],
            "pinned_days": 18,
        },
        *(
            {
                "created": T0,
                "renewal": None,
                "events": [],
                "entered": T0,
                "opened": [],
                "pinned_days": None,
            }
            for _ in range(2)
        ),
    ]
    stage_rules: list[dict[str, Any]] = [
        {"event": "purchase", "first": {"older_than_days": 90}},
        {"all": [{"count": {"lte": 1}, "event": "page_view", "within_days": 30}]},
    ]
    ids = lives_up_to_t0(ws, world, stage_rules)
    news_round_agrees(ws, ids, T0 + 40 * DAY, [(0, "page_view", 40 * 24 * 60)])
    news_round_agrees(ws, ids, T0 + 40 * DAY + 10 * MINUTE, [(0, "purchase", 0)])
