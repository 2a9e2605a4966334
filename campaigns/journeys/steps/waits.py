"""The waits: a duration; until a local time (and day of week) on the contact's clock;
for an event or a rule, with a timeout branch. A waiting contact is parked with a
`resume_at`; a wake-up only brings its `due_at` forward and the step checks again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.journeys.runs import Batch, Run, events_since, move_all, resume_due
from campaigns.journeys.steps.base import (
    Checker,
    Names,
    StepType,
    duration,
    duration_words,
    properties_words,
)
from campaigns.models import Journey, JourneyStep, StepKind
from contacts.rules.compiler import matching_ids
from contacts.rules.describe import describe
from contacts.zones import contact_zone, local_instant, zone_info

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Wait(StepType):
    kind = StepKind.WAIT

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        c.duration(f"{path}.duration", config.get("duration"))

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return [f"for {duration_words(config.get('duration'))}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _wait(batch, step, runs)


class WaitUntil(StepType):
    kind = StepKind.WAIT_UNTIL

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        try:
            dt.time.fromisoformat(str(config.get("time")))
        except ValueError:
            c.add(f"{path}.time", "must be a time of day, HH:MM")
        days = config.get("days_of_week", [])
        if not isinstance(days, list) or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days
        ):
            c.add(f"{path}.days_of_week", "must list days 0 (Monday) to 6 (Sunday)")

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        days = config.get("days_of_week") or []
        on = ", ".join(WEEKDAYS[d] for d in days if isinstance(d, int) and 0 <= d <= 6)
        return [
            f"until {config.get('time')} in the contact's time zone" + (f", on {on}" if on else "")
        ]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _wait_until(batch, step, runs)


class WaitFor(StepType):
    kind = StepKind.WAIT_FOR

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        has_event, has_rule = "event" in config, "rule" in config
        if has_event == has_rule:
            c.add(path, "must wait for either an event or a rule")
        elif has_event:
            c.event(f"{path}.event", config["event"])
        else:
            c.rule(f"{path}.rule", config["rule"])
        c.duration(f"{path}.timeout", config.get("timeout"))

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        return [config.get("next"), config.get("timeout_next")]

    def outcomes(
        self, config: dict[str, Any], counts: dict[str, Any]
    ) -> list[tuple[str, str, Any]] | None:
        return [
            ("matched", "before the timeout", config.get("next")),
            ("timed out", "after the timeout", config.get("timeout_next")),
        ]

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        if "event" in config:
            event = config.get("event") or {}
            what = f"event “{event.get('name')}”{properties_words(event.get('properties'))}"
        else:
            what = f"rule: {describe(config.get('rule'))}"
        return [f"for {what}", f"at most {duration_words(config.get('timeout'))}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _wait_for(batch, step, runs)


def _wait(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    parked = [r for r in runs if r.resume_at is not None]
    for run in runs:
        if run.resume_at is None:
            batch.park(run, batch.now + duration(step.config["duration"]))
    move_all(batch, step, resume_due(batch, step, parked))


def next_local(
    now: dt.datetime, time: dt.time, days: list[int], zone: str, fallback: str
) -> dt.datetime:
    """The first instant at or after `now` that is `time` on the local clock of
    `zone` (else `fallback`) on one of `days` (0 = Monday; empty: any day)."""
    tz = zone_info(zone) or zone_info(fallback) or dt.UTC
    today = now.astimezone(tz).date()
    for offset in range(0, 9):
        day = today + dt.timedelta(days=offset)
        if days and day.weekday() not in days:
            continue
        when = local_instant(day, time, zone, fallback)
        if when >= now:
            return when
    raise AssertionError("a day of the week always comes round within 8 days")


def _wait_until(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    time = dt.time.fromisoformat(step.config["time"])
    days = list(step.config.get("days_of_week") or [])
    parked = [r for r in runs if r.resume_at is not None]
    fallback = batch.journey.workspace.time_zone
    for run in runs:
        if run.resume_at is None:
            zone = contact_zone(run.time_zone, run.phone, fallback)
            batch.park(run, next_local(batch.now, time, days, zone, fallback))
    move_all(batch, step, resume_due(batch, step, parked))


def wait_met(journey: Journey, step: JourneyStep, runs: list[Run], now: dt.datetime) -> set[int]:
    if not runs:
        return set()
    if "event" in step.config:
        return events_since(journey, step.config["event"], runs, lambda r: r.step_entered_at)
    hit = matching_ids(
        step.config["rule"],
        workspace=journey.workspace,
        contact_ids=[r.contact_id for r in runs],
        now=now,
    )
    return {r.id for r in runs if r.contact_id in hit}


def _wait_for(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    met = wait_met(batch.journey, step, runs, batch.now)
    timeout = duration(step.config["timeout"])
    for run in runs:
        if run.id in met:
            batch.move(run, step.config.get("next"))
        elif run.resume_at is None:
            batch.park(run, batch.now + timeout)
        elif run.resume_at <= batch.now:
            batch.move(run, step.config.get("timeout_next"))
        else:
            run.due_at = run.resume_at
