"""What a journey worker holds while it runs a claim: `Run` is one claimed enrolment,
`Batch` what the claim changes (moves, counters, messages to insert), with the helpers
every step uses: moving contacts on, waits that have ended, exact split assignment."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from campaigns.models import EnrolmentStatus, Journey, JourneyStep
from contacts.models import Event
from messaging.models import Message


@dataclass
class Run:
    """One claimed enrolment, changed in memory and written back at the end."""

    id: int
    contact_id: int
    step_id: int | None
    status: str
    due_at: dt.datetime
    entered_at: dt.datetime
    step_entered_at: dt.datetime
    resume_at: dt.datetime | None
    goal_until: dt.datetime | None
    attempts: int
    path: dict[str, Any]
    converted_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    exit_reason: str = ""
    time_zone: str = ""
    phone: str | None = None
    steps_run: int = 0


@dataclass
class Batch:
    journey: Journey
    steps: dict[int, JourneyStep]
    by_key: dict[str, JourneyStep]
    now: dt.datetime
    entered: Counter[int] = field(default_factory=Counter)
    exited: Counter[int] = field(default_factory=Counter)
    converted: Counter[int] = field(default_factory=Counter)
    messages: list[Message] = field(default_factory=list)

    def step_of(self, run: Run) -> JourneyStep | None:
        return None if run.step_id is None else self.steps[run.step_id]

    def move(self, run: Run, key: str | None) -> None:
        """To the step `key`, due now; no key: the journey is completed."""
        run.resume_at = None
        run.attempts = 0
        if key is None:
            self.finish(run, EnrolmentStatus.COMPLETED, "")
            return
        step = self.by_key.get(key)
        if step is None:  # the graph is checked on save; never crash a batch over it
            self.finish(run, EnrolmentStatus.EXITED, f"no step {key}")
            return
        run.step_id = step.pk
        run.step_entered_at = self.now
        run.due_at = self.now
        self.entered[step.pk] += 1

    def park(self, run: Run, until: dt.datetime) -> None:
        run.resume_at = until
        run.due_at = until

    def finish(self, run: Run, status: str, reason: str) -> None:
        if run.step_id is not None:
            self.exited[run.step_id] += 1
            if status == EnrolmentStatus.CONVERTED:
                self.converted[run.step_id] += 1
        run.status = status
        run.exit_reason = reason
        run.finished_at = self.now
        run.resume_at = None


def events_since(journey: Journey, event: dict[str, Any], runs: list[Run], since: Any) -> set[int]:
    """Runs whose contact performed `event` at or after since(run)."""
    if not runs:
        return set()
    earliest = min(since(r) for r in runs)
    found: dict[int, list[dt.datetime]] = defaultdict(list)
    queryset = Event.objects.filter(
        workspace_id=journey.workspace_id,
        contact_id__in={r.contact_id for r in runs},
        name=event["name"],
        received_at__gte=earliest,
    )
    if event.get("properties"):
        queryset = queryset.filter(properties__contains=event["properties"])
    for contact_id, received_at in queryset.values_list("contact_id", "received_at"):
        found[contact_id].append(received_at)
    return {r.id for r in runs if any(t >= since(r) for t in found.get(r.contact_id, []))}


def assign(
    step: JourneyStep, weights: list[tuple[str, int]], count: int, *, slot: str = ""
) -> list[str]:
    """Labels for the next `count` contacts at `step`, each to the label furthest
    behind its share: every label stays within one contact of weight/total of all
    contacts ever assigned. The step row is locked for the rest of the transaction,
    so concurrent workers take turns."""
    locked = JourneyStep.objects.select_for_update().only("assigned").get(pk=step.pk)
    state = locked.assigned.get(slot, {}) if slot else locked.assigned
    assigned = {label: int(state.get(label, 0)) for label, _ in weights}
    total_weight = sum(w for _, w in weights)
    n = sum(assigned.values())
    out = []
    for _ in range(count):
        n += 1
        label = max(weights, key=lambda lw: lw[1] * n / total_weight - assigned[lw[0]])[0]
        assigned[label] += 1
        out.append(label)
    new_state = {**locked.assigned, slot: assigned} if slot else assigned
    JourneyStep.objects.filter(pk=step.pk).update(assigned=new_state)
    step.assigned = new_state
    return out


def move_all(batch: Batch, step: JourneyStep, runs: Iterable[Run], key: str = "next") -> None:
    for run in runs:
        batch.move(run, step.config.get(key))


def resume_due(batch: Batch, step: JourneyStep, runs: list[Run]) -> list[Run]:
    """Runs whose wait has ended (the rest stay parked: woken early for a check)."""
    done = []
    for run in runs:
        if run.resume_at is not None and run.resume_at > batch.now:
            run.due_at = run.resume_at
        else:
            done.append(run)
    return done
