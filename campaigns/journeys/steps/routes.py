"""Where a contact goes next: a branch on a rule (yes / no), or a random split by
weight (exact to within one contact, journey runs' `assign`)."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.runs import Batch, Run, assign
from campaigns.journeys.steps.base import Checker, Names, StepType
from campaigns.models import JourneyStep, StepKind
from contacts.rules.compiler import matching_ids
from contacts.rules.describe import describe


class Branch(StepType):
    kind = StepKind.BRANCH

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        c.rule(f"{path}.rule", config.get("rule"))

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        return [config.get("yes"), config.get("no")]

    def outcomes(
        self, config: dict[str, Any], counts: dict[str, Any]
    ) -> list[tuple[str, str, Any]] | None:
        return [("yes", "matches", config.get("yes")), ("no", "does not match", config.get("no"))]

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return [f"if {describe(config.get('rule'))}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _branch(batch, step, runs)


class Split(StepType):
    kind = StepKind.SPLIT

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        paths = config.get("paths")
        if not isinstance(paths, list) or not 2 <= len(paths) <= 10:
            c.add(f"{path}.paths", "must list 2 to 10 paths")
            return
        labels = [p.get("label") if isinstance(p, dict) else None for p in paths]
        for i, p in enumerate(paths):
            if not isinstance(labels[i], str) or not labels[i] or labels.count(labels[i]) > 1:
                c.add(f"{path}.paths[{i}].label", "must be a unique, non-empty label")
            c.positive_int(f"{path}.paths[{i}].weight", p.get("weight") if p else None, high=1000)

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        paths = config.get("paths")
        if not isinstance(paths, list):
            return []
        return [p.get("next") for p in paths if isinstance(p, dict)]

    def outcomes(
        self, config: dict[str, Any], counts: dict[str, Any]
    ) -> list[tuple[str, str, Any]] | None:
        paths = [p for p in config.get("paths") or [] if isinstance(p, dict)]
        total = sum(int(p.get("weight") or 0) for p in paths) or 1
        assigned = counts.get("assigned") or {}
        out = []
        for p in paths:
            share = round(100 * int(p.get("weight") or 0) / total)
            out.append(
                (
                    str(p.get("label")),
                    f"{share}% · {assigned.get(p.get('label'), 0)} assigned",
                    p.get("next"),
                )
            )
        return out

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return ["at random, by weight"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _split(batch, step, runs)


def _branch(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    hit = matching_ids(
        step.config["rule"],
        workspace=batch.journey.workspace,
        contact_ids=[r.contact_id for r in runs],
        now=batch.now,
    )
    for run in runs:
        batch.move(run, step.config.get("yes" if run.contact_id in hit else "no"))


def _split(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    paths = step.config["paths"]
    labels = assign(step, [(p["label"], int(p["weight"])) for p in paths], len(runs))
    next_of = {p["label"]: p.get("next") for p in paths}
    for run, label in zip(runs, labels, strict=True):
        run.path[step.key] = label
        batch.move(run, next_of[label])
