"""Writes to stage definitions: the defaults, create, update, reorder, remove."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from contacts.rules import Scope, validate_rule
from lifecycle.defaults import DEFAULT_STAGES
from lifecycle.models import ContactStage, Stage
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.evaluation import stages_evaluate
from lifecycle.services.sweeps import sweep_start
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_DESCRIPTION = 2000


@transaction.atomic
def stages_create_defaults(*, workspace: Workspace) -> list[Stage]:
    """Give a new workspace the default stages (does nothing if it has stages)."""
    if Stage.objects.filter(workspace=workspace).exists():
        return list(stages_for_workspace(workspace=workspace))
    return Stage.objects.bulk_create(
        Stage(
            workspace=workspace,
            key=key,
            name=name,
            colour=colour,
            description=text,
            rule=rule,
            position=index,
            is_default=rule is None,
        )
        for index, (key, name, colour, text, rule) in enumerate(DEFAULT_STAGES)
    )


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _key(value: Any, stage: Stage | None) -> Any:
    if not isinstance(value, str) or not KEY.match(value):
        raise _Refused("lowercase letters, digits, - and _, starting with a letter")
    return value


def _name(value: Any, stage: Stage | None) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise _Refused("must not be blank")
    if len(value.strip()) > 100:
        raise _Refused("is longer than 100 characters")
    return value.strip()


def _colour(value: Any, stage: Stage | None) -> Any:
    if not isinstance(value, str) or not COLOUR.match(value):
        raise _Refused("must be #rrggbb")
    return value.lower()


def _description(value: Any, stage: Stage | None) -> Any:
    if not isinstance(value, str):
        raise _Refused("must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise _Refused(f"is longer than {MAX_DESCRIPTION} characters")
    return value


def _rule(value: Any, stage: Stage | None) -> Any:
    default = stage is not None and stage.is_default
    if default and value is not None:
        raise _Refused(
            "the default stage takes every contact no other stage claims; it has no rule"
        )
    if value is None and not default:
        raise _Refused("a stage other than the default needs an entry rule")
    return value


# Each field a stage takes, with its check: the value to store, or _Refused.
_FIELDS = {
    "key": _key,
    "name": _name,
    "colour": _colour,
    "description": _description,
    "rule": _rule,
}


def stage_rule_check(
    *, workspace: Workspace, stage: Stage | None, rule: Any, field: str = "rule"
) -> Any:
    """The checks `stage_create` and `stage_update` make of an entry rule, without
    writing (the what-if preview): the rule, or InvalidInput naming `field` and, for a
    bad node, its path under it (`stages[2].rule.all[0].op`)."""
    try:
        value = _rule(rule, stage)
    except _Refused as refused:
        raise InvalidInput(f"{field}: {refused.reason}", fields={field: [refused.reason]}) from None
    if value is not None:
        validate_rule(value, workspace=workspace, field=field)
    return value


def _clean(workspace: Workspace, data: dict[str, Any], *, stage: Stage | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {k: ["unknown field"] for k in data if k not in _FIELDS}
    cleaned: dict[str, Any] = {}
    for name, check in _FIELDS.items():
        if name in data:
            try:
                cleaned[name] = check(data[name], stage)
            except _Refused as refused:
                errors[name] = [refused.reason]
    if errors:
        first, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
    if cleaned.get("rule") is not None:
        validate_rule(cleaned["rule"], workspace=workspace)
    if "key" in cleaned:
        taken = Stage.objects.filter(
            workspace=workspace, key=cleaned["key"], archived_at__isnull=True
        )
        if stage is not None:
            taken = taken.exclude(pk=stage.pk)
        if taken.exists():
            raise Conflict("A stage has this key.", fields={"key": ["taken"]})
    return cleaned


def _changed(workspace: Workspace, reason: str) -> None:
    """Stage definitions changed: every contact is evaluated again."""

    transaction.on_commit(lambda: sweep_start(workspace=workspace, reason=reason))


@transaction.atomic
def stage_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Stage:
    """A new stage, evaluated just before the default stage unless placed later."""
    for required in ("key", "name", "rule"):
        if required not in data:
            raise InvalidInput(f"{required} is required.", fields={required: ["is required"]})
    cleaned = _clean(workspace, data, stage=None)
    last = Stage.objects.filter(
        workspace=workspace, archived_at__isnull=True, is_default=False
    ).aggregate(m=Max("position"))["m"]
    stage = Stage(workspace=workspace, position=(last if last is not None else -1) + 1, **cleaned)
    stage.full_clean()
    stage.save()
    audit_record(
        workspace=workspace,
        action="stage.created",
        actor=actor,
        object_type="stage",
        object_id=stage.pk,
        details={"key": stage.key},
    )
    _changed(workspace, f"stage {stage.key} created")
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, data: dict[str, Any], actor: Actor) -> Stage:
    cleaned = _clean(stage.workspace, data, stage=stage)
    rule_changed = "rule" in cleaned and cleaned["rule"] != stage.rule
    for key, value in cleaned.items():
        setattr(stage, key, value)
    if rule_changed:
        stage.rule_version += 1
    stage.updated_at = timezone.now()
    stage.save()
    audit_record(
        workspace=stage.workspace,
        action="stage.updated",
        actor=actor,
        object_type="stage",
        object_id=stage.pk,
        details={"fields": sorted(cleaned), "rule_version": stage.rule_version},
    )
    if rule_changed:
        _changed(stage.workspace, f"stage {stage.key} rule v{stage.rule_version}")
    return stage


@transaction.atomic
def stages_reorder(*, workspace: Workspace, keys: Any, actor: Actor) -> list[Stage]:
    """Set the evaluation order: `keys` lists every non-default stage once."""
    stages = {s.key: s for s in stages_for_workspace(workspace=workspace) if not s.is_default}
    if (
        not isinstance(keys, list)
        or not all(isinstance(key, str) for key in keys)
        or sorted(keys) != sorted(stages)
    ):
        raise InvalidInput(
            "List every stage but the default once.",
            fields={"order": [f"expected the keys {', '.join(sorted(stages))}"]},
        )
    for position, key in enumerate(keys):
        if stages[key].position != position:
            stages[key].position = position
            stages[key].updated_at = timezone.now()
            stages[key].save(update_fields=["position", "updated_at"])
    audit_record(
        workspace=workspace, action="stages.reordered", actor=actor, details={"order": keys}
    )
    _changed(workspace, "stages reordered")
    return list(stages_for_workspace(workspace=workspace))


@transaction.atomic
def stage_archive(*, stage: Stage, actor: Actor) -> int:
    """Remove a stage. Its contacts (pinned ones too) move at once by the rules of
    the other stages, so none is ever left in a removed stage; history keeps it.
    Returns how many contacts moved."""

    if stage.is_default:
        raise InvalidInput(
            "Choose another default stage before removing this one.",
            fields={"stage": ["is the default stage"]},
        )
    workspace = stage.workspace
    Stage.objects.filter(pk=stage.pk).update(archived_at=timezone.now())
    moved = 0
    ids = list(ContactStage.objects.filter(stage=stage).values_list("contact_id", flat=True))
    for start in range(0, len(ids), 5000):
        moved += stages_evaluate(
            workspace=workspace,
            scope=Scope.of(ids[start : start + 5000]),
            reason=f"stage {stage.key} removed",
            override_pins=True,
            exclude_stage_ids=frozenset({stage.pk}),
        )
    audit_record(
        workspace=workspace,
        action="stage.archived",
        actor=actor,
        object_type="stage",
        object_id=stage.pk,
        details={"moved": moved},
    )
    _changed(workspace, f"stage {stage.key} removed")
    return moved


@transaction.atomic
def stage_make_default(*, stage: Stage, actor: Actor) -> Stage:
    """Make this stage the fallback; it loses its rule (the old default gets none)."""
    Stage.objects.filter(
        workspace=stage.workspace, is_default=True, archived_at__isnull=True
    ).exclude(pk=stage.pk).update(is_default=False, rule={"any": []})
    stage.is_default, stage.rule = True, None
    stage.rule_version += 1
    stage.save(update_fields=["is_default", "rule", "rule_version", "updated_at"])
    audit_record(
        workspace=stage.workspace,
        action="stage.made_default",
        actor=actor,
        object_type="stage",
        object_id=stage.pk,
    )
    _changed(stage.workspace, f"stage {stage.key} made default")
    return stage
