"""The builder's layout of a journey's steps (campaigns/journeys/flow.py), without a
database: forks side by side, joins below, merges and stray steps drawn once."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.flow import Item, journey_flow, trigger_words
from campaigns.journeys.steps import STEP_TYPES
from campaigns.journeys.steps.base import Names
from tests.campaigns.journeys.helpers import step


def shape(items: list[Item]) -> list[Any]:
    """[key, {label: [...]}, "goto:key", "end"] for a readable comparison."""
    out: list[Any] = []
    for item in items:
        if item.type == "step":
            assert item.box is not None
            out.append(item.box.key)
            if item.columns:
                out.append({c.label: shape(c.items) for c in item.columns})
        else:
            out.append(f"goto:{item.target}" if item.type == "goto" else "end")
    return out


def test_split_wait_for_merges_and_stray_steps():
    steps = [
        step(
            "start",
            "split",
            paths=[
                {"label": "A", "weight": 1, "next": "a"},
                {"label": "B", "weight": 1, "next": "b"},
                {"label": "C", "weight": 2, "next": None},
            ],
        ),
        step(
            "a", "wait_for", event={"name": "buy"}, timeout={"days": 1}, next="x", timeout_next="x"
        ),
        step("b", "send_email", template_id=1, next="x"),
        step("x", "exit"),
        step("stray", "wait", duration={"hours": 3}),
    ]
    counts = {"start": {"assigned": {"A": 3, "B": 2, "C": 5}}}
    flow, apart = journey_flow(steps, counts, Names())
    # C ends, so no step joins all three paths: "x" is drawn under A, B continues at it.
    assert shape(flow) == [
        "start",
        {"A": ["a", {"matched": [], "timed out": []}, "x"], "B": ["b", "goto:x"], "C": ["end"]},
    ]
    assert [c.detail for c in flow[0].columns] == [
        "25% · 3 assigned",
        "25% · 2 assigned",
        "50% · 5 assigned",
    ]
    assert shape(apart) == ["stray", "end"]
    assert apart[0].box and apart[0].box.words == ["for 3 hours"]


def test_words():
    names = Names(stages={1: "Lead"})
    assert trigger_words({"kind": "stage_entered", "stage_id": 1}, names) == "Enters stage “Lead”"
    assert (
        trigger_words(
            {"kind": "date_attribute", "attribute": "renewal_date", "offset_days": -3}, names
        )
        == "3 days before renewal_date"
    )
    assert (
        trigger_words({"kind": "date_attribute", "attribute": "birthday", "annual": True}, names)
        == "On birthday every year"
    )
    assert STEP_TYPES["wait_until"].describe({"time": "10:00", "days_of_week": [0, 2]}, names) == [
        "until 10:00 in the contact's time zone, on Mon, Wed"
    ]
    assert STEP_TYPES["update_attribute"].describe({"attribute": "plan", "value": None}, names) == [
        "remove plan"
    ]
    assert STEP_TYPES["send_email"].describe({"template_id": 9}, names) == ["Template #9 (missing)"]


def test_ab_variants_are_columns_each_on_its_own_path():
    steps = [
        step(
            "offer",
            "send_email",
            variants=[
                {"label": "A", "template_id": 1, "weight": 3, "next": "nudge"},
                {"label": "B", "template_id": 2, "weight": 1, "next": None},
            ],
        ),
        step("nudge", "wait", duration={"days": 1}, next=None),
    ]
    flow, apart = journey_flow(steps, {"offer": {"assigned": {"A": 6, "B": 2}}}, Names())
    assert shape(flow) == ["offer", {"A": ["nudge", "end"], "B": ["end"]}]
    assert [c.detail for c in flow[0].columns] == ["75% · 6 assigned", "25% · 2 assigned"]
    assert apart == []
