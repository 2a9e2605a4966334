"""Send email and send SMS: one template, or A/B variants by weight, optionally with
an automatic winner (experiments.py) and the contact's best time (send_time.py). Each
message is keyed `journey:<enrolment>:<step>`, so a re-run never sends twice.

Each A/B variant may name its own next step (`variants[].next`), so every arm can
go on its own path; a variant without one goes on to the step's `next`. A contact
follows the arm it was sent (the winner's, after a test is decided)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.journeys.experiments import decide_if_due, winner_state
from campaigns.journeys.runs import Batch, Run, assign
from campaigns.journeys.steps.base import Checker, Names, StepType
from campaigns.models import JourneyStep, StepKind
from campaigns.send_time import best_send_times
from contacts.models import Channel
from messaging.models import Message, MessageStatus, Origin, Template


class Send(StepType):
    def __init__(self, kind: str, channel: str) -> None:
        self.kind = kind
        self.channel = channel

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        channel = self.channel
        variants = config.get("variants")
        arms = variants if isinstance(variants, list) and variants else [config]
        if variants is not None and not (isinstance(variants, list) and len(variants) >= 2):
            c.add(f"{path}.variants", "must list at least two variants, or be left out")
            return
        seen: set[Any] = set()
        for i, arm in enumerate(arms):
            apath = f"{path}.variants[{i}]" if arms is variants else path
            if not isinstance(arm, dict):
                c.add(apath, "must be an object")
                continue
            template_id = arm.get("template_id")
            template = Template.objects.filter(
                pk=template_id if isinstance(template_id, int) else -1, workspace=c.workspace
            ).first()
            if template is None:
                c.add(f"{apath}.template_id", "no such template in this workspace")
            elif template.channel != channel:
                c.add(f"{apath}.template_id", f"is not an {channel} template")
            if arms is variants:
                label = arm.get("label")
                if not isinstance(label, str) or not label or label in seen:
                    c.add(f"{apath}.label", "must be a unique, non-empty label")
                seen.add(label)
                c.positive_int(f"{apath}.weight", arm.get("weight", 1), high=1000)
        winner = config.get("winner")
        if winner is not None:
            if not isinstance(winner, dict) or not variants:
                c.add(f"{path}.winner", 'needs variants, and is {"pool", "wait_hours", "metric"}')
            else:
                c.positive_int(f"{path}.winner.pool", winner.get("pool"), low=2, high=10**7)
                c.positive_int(f"{path}.winner.wait_hours", winner.get("wait_hours", 24), high=720)
                if winner.get("metric", "clicks") not in ("clicks", "conversions"):
                    c.add(f"{path}.winner.metric", "must be clicks or conversions")
        if not isinstance(config.get("best_time", False), bool):
            c.add(f"{path}.best_time", "must be true or false")

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        variants = _variants(config)
        if not variants:
            return [config.get("next")]
        return [arm_next(config, v) for v in variants]

    def canonical(self, config: dict[str, Any]) -> dict[str, Any]:
        """Variants sharing the step's `next` mean the same as each naming it (how the
        canvas writes them)."""
        variants = config.get("variants")
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            return config
        rest = {k: v for k, v in config.items() if k != "next"}
        return {**rest, "variants": [{**v, "next": arm_next(config, v)} for v in variants]}

    def outcomes(
        self, config: dict[str, Any], counts: dict[str, Any]
    ) -> list[tuple[str, str, Any]] | None:
        """One column per variant (its weight, and how many were assigned to it)."""
        variants = _variants(config)
        if not variants:
            return None
        total = sum(_weight(v) for v in variants) or 1
        assigned = counts.get("assigned") or {}
        return [
            (
                str(v.get("label")),
                f"{round(100 * _weight(v) / total)}% · {assigned.get(v.get('label'), 0)} assigned",
                arm_next(config, v),
            )
            for v in variants
        ]

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        variants = config.get("variants") or []
        lines = (
            [
                f"{v.get('label')}: {names.of('templates', v.get('template_id'))}"
                f" (weight {v.get('weight', 1)})"
                for v in variants
                if isinstance(v, dict)
            ]
            if variants
            else [f"Template {names.of('templates', config.get('template_id'))}"]
        )
        if config.get("best_time"):
            lines.append("at the contact's best time within 24 h")
        return lines

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _send(batch, step, runs)


def _variants(config: dict[str, Any]) -> list[dict[str, Any]]:
    variants = config.get("variants")
    return [v for v in variants if isinstance(v, dict)] if isinstance(variants, list) else []


def _weight(variant: dict[str, Any]) -> int:
    weight = variant.get("weight", 1)
    return weight if isinstance(weight, int) and not isinstance(weight, bool) else 0


def arm_next(config: dict[str, Any], variant: dict[str, Any]) -> Any:
    """Where a variant's contacts go next: its own `next` if it names one (null ends
    the journey there), else the step's."""
    return variant["next"] if "next" in variant else config.get("next")


SEND_EMAIL = Send(StepKind.SEND_EMAIL, Channel.EMAIL)
SEND_SMS = Send(StepKind.SEND_SMS, Channel.SMS)


def _send(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    config = step.config
    variants = config.get("variants") or []
    if variants and config.get("winner"):
        _send_test(batch, step, runs)
        return
    if variants:
        labels = assign(step, [(v["label"], int(v.get("weight", 1))) for v in variants], len(runs))
    else:
        labels = [""] * len(runs)
    _enqueue(batch, step, runs, labels)


def _send_test(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    """A/B with an automatic winner (journey_experiments.py): the pool is split, later
    arrivals wait at the step for the winner."""
    locked = JourneyStep.objects.select_for_update().get(pk=step.pk)
    step.assigned = locked.assigned
    winner = decide_if_due(step, batch.now)
    if winner is not None:
        _enqueue(batch, step, runs, [winner] * len(runs))
        return
    variants = step.config["variants"]
    pool = int(step.config["winner"]["pool"])
    counted = sum(v for k, v in step.assigned.items() if not k.startswith("_"))
    arriving = [r for r in runs if r.resume_at is None]
    in_pool = arriving[: max(0, pool - counted)]
    if in_pool:
        labels = assign(
            step, [(v["label"], int(v.get("weight", 1))) for v in variants], len(in_pool)
        )
        _enqueue(batch, step, in_pool, labels)
    if counted + len(in_pool) >= pool and not winner_state(step).get("pool_full_at"):
        state = {**winner_state(step), "pool_full_at": batch.now.isoformat()}
        step.assigned = {**step.assigned, "_winner": state}
        JourneyStep.objects.filter(pk=step.pk).update(assigned=step.assigned)
    filled = winner_state(step).get("pool_full_at")
    decide_at = (
        dt.datetime.fromisoformat(filled)
        + dt.timedelta(hours=step.config["winner"].get("wait_hours", 24))
        if filled
        else batch.now + dt.timedelta(hours=1)
    )
    for run in runs:
        if run not in in_pool:
            batch.park(run, max(decide_at, batch.now + dt.timedelta(seconds=1)))


def _enqueue(batch: Batch, step: JourneyStep, runs: list[Run], labels: list[str]) -> None:
    config = step.config
    template_of = {v["label"]: v["template_id"] for v in config.get("variants") or []}
    template_of[""] = config.get("template_id")
    templates = Template.objects.in_bulk({t for t in template_of.values() if t})
    due = {r.id: batch.now for r in runs}
    if config.get("best_time"):
        due.update(_best_times(batch, runs))
    for run, label in zip(runs, labels, strict=True):
        template = templates[template_of[label]]
        if label:
            run.path[step.key] = label
        batch.messages.append(
            Message(
                workspace_id=batch.journey.workspace_id,
                contact_id=run.contact_id,
                channel=template.channel,
                template=template,
                idempotency_key=f"journey:{run.id}:{step.pk}",
                due_at=due[run.id],
                origin_kind=Origin.JOURNEY_STEP,
                origin_id=step.pk,
                status=MessageStatus.SCHEDULED,
            )
        )
    next_of = {v["label"]: arm_next(config, v) for v in config.get("variants") or []}
    next_of[""] = config.get("next")
    for run, label in zip(runs, labels, strict=True):
        batch.move(run, next_of[label])


def _best_times(batch: Batch, runs: list[Run]) -> dict[int, dt.datetime]:
    best = best_send_times(
        workspace=batch.journey.workspace,
        contacts=[r.contact_id for r in runs],
        after=batch.now,
    )
    return {r.id: best[r.contact_id] for r in runs if r.contact_id in best}
