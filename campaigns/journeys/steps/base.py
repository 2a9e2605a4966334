"""What every journey step kind is: one `StepType` each (validate, run, describe),
registered in `campaigns.journeys.steps.STEP_TYPES`. This module holds the base class
and what the kinds share: checking a definition's values, and naming what a
description mentions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from campaigns.journeys.runs import Batch, Run
from campaigns.models import JourneyStep
from contacts.models import Segment
from contacts.rules.validation import rule_errors
from lifecycle.models import Stage
from loyalty.models import Reward, Tier
from messaging.models import Template
from surveys.models import Survey
from workspaces.models import Workspace

DURATION_UNITS = ("days", "hours", "minutes", "seconds")
MAX_WAIT = dt.timedelta(days=730)


def duration(value: dict[str, Any]) -> dt.timedelta:
    return dt.timedelta(**{unit: float(value.get(unit, 0)) for unit in DURATION_UNITS})


@dataclass
class Checker:
    workspace: Workspace
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, reason: str) -> None:
        self.errors.setdefault(path, []).append(reason)

    def rule(self, path: str, rule: Any) -> None:
        for sub, reasons in rule_errors(rule, workspace=self.workspace).items():
            self.errors.setdefault(f"{path}.{sub}" if sub != "rule" else path, []).extend(reasons)

    def positive_int(self, path: str, value: Any, *, low: int = 1, high: int = 10**9) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(path, f"must be a whole number from {low} to {high}")

    def duration(self, path: str, value: Any) -> None:
        if not isinstance(value, dict) or not value or set(value) - set(DURATION_UNITS):
            self.add(path, "must be an object of days, hours, minutes, seconds")
            return
        for unit, amount in value.items():
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                self.add(f"{path}.{unit}", "must be a number of zero or more")
                return
        if not dt.timedelta(0) < duration(value) <= MAX_WAIT:
            self.add(path, "must be more than zero and at most two years")

    def event(self, path: str, value: Any) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.add(path, 'must be {"name": ..., "properties": {...}}')
            return
        if not value["name"].strip():
            self.add(f"{path}.name", "must not be blank")
        if not isinstance(value.get("properties", {}), dict):
            self.add(f"{path}.properties", "must be an object of property values")

    def stage(self, path: str, value: Any) -> None:
        if not Stage.objects.filter(
            pk=value if isinstance(value, int) else -1,
            workspace=self.workspace,
            archived_at__isnull=True,
        ).exists():
            self.add(path, "no such stage in this workspace")


@dataclass
class Names:
    """Names of the stages, segments, templates and surveys a page mentions (one query each)."""

    stages: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)
    templates: dict[int, str] = field(default_factory=dict)
    surveys: dict[int, str] = field(default_factory=dict)
    tiers: dict[int, str] = field(default_factory=dict)
    rewards: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, workspace: Workspace, triggers: Iterable[Any], steps: Iterable[Any] = ()
    ) -> Names:
        stage_ids, segment_ids, template_ids, survey_ids = set(), set(), set(), set()
        tier_ids, reward_ids = set(), set()
        for trigger in triggers:
            if isinstance(trigger, dict):
                stage_ids.add(trigger.get("stage_id"))
                segment_ids.add(trigger.get("segment_id"))
                survey_ids.add(trigger.get("survey_id"))
                tier_ids.add(trigger.get("tier_id"))
                reward_ids.add(trigger.get("reward_id"))
        for step in steps:
            config = step.get("config") if isinstance(step, dict) else None
            if not isinstance(config, dict):
                continue
            stage_ids.add(config.get("stage_id"))
            template_ids.add(config.get("template_id"))
            survey_ids.add(config.get("survey_id"))
            for variant in config.get("variants") or []:
                if isinstance(variant, dict):
                    template_ids.add(variant.get("template_id"))

        def ints(values: set[Any]) -> list[int]:
            return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]

        def named(model: Any, ids: set[Any]) -> dict[int, str]:
            if not ints(ids):
                return {}
            rows = model.objects.filter(workspace=workspace, pk__in=ints(ids))
            return dict(rows.values_list("pk", "name"))

        return cls(
            stages=named(Stage, stage_ids),
            segments=named(Segment, segment_ids),
            templates=named(Template, template_ids),
            surveys=named(Survey, survey_ids),
            tiers=named(Tier, tier_ids),
            rewards=named(Reward, reward_ids),
        )

    def of(self, kind: str, pk: Any) -> str:
        name = getattr(self, kind).get(pk) if isinstance(pk, int) else None
        return f"“{name}”" if name else f"#{pk} (missing)"


def properties_words(properties: Any) -> str:
    if not isinstance(properties, dict) or not properties:
        return ""
    return " where " + ", ".join(f"{k} = {v}" for k, v in properties.items())


def duration_words(value: Any) -> str:
    if not isinstance(value, dict):
        return "?"
    parts = []
    for unit in DURATION_UNITS:
        amount = value.get(unit)
        if amount:
            shown = int(amount) if float(amount).is_integer() else amount
            parts.append(f"{shown} {unit[:-1] if shown == 1 else unit}")
    return " ".join(parts) or "0 seconds"


class StepType:
    """One kind of journey step. `validate` adds the errors of a step's config to the
    checker (paths under `path`); `successors` names the steps it may lead to;
    `outcomes` labels them for a forking step's columns in the flow; `describe` says
    the settings in words, a line each; `run` moves a group of contacts through it."""

    kind: str
    # Sends a message (its counts show sent, opened and clicked; unsubscribing from its
    # channel can end the journey).
    channel: str | None = None

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        pass

    def sends(self, config: dict[str, Any]) -> str | None:
        """The channel this step's messages go by (None: it sends none)."""
        return self.channel

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        return [config.get("next")]

    def canonical(self, config: dict[str, Any]) -> dict[str, Any]:
        """The config in one spelling of what it means, to tell a real edit from the
        same settings written another way."""
        return config

    def outcomes(
        self, config: dict[str, Any], counts: dict[str, Any]
    ) -> list[tuple[str, str, Any]] | None:
        """(label, detail, next key) per outcome of a step that forks, else None."""
        return None

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return []

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        raise NotImplementedError
