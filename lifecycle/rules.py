"""`stage` and `days_in_stage` in the rule language."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q

from contacts.rules import (
    RULE_HOLDERS,
    RULE_USERS,
    Context,
    FieldSpec,
    referenced_segments,
    register_field,
)
from contacts.rules.due import DueContext, age_shifts, register_due
from contacts.rules.predicates import contact_in, number_q
from contacts.rules.sql import Sql
from lifecycle.models import ContactStage, Stage
from workspaces.models import Workspace


def _stage_keys(workspace: Workspace | None) -> list[str]:
    if workspace is None:
        return []
    return list(
        Stage.objects.filter(workspace=workspace, archived_at__isnull=True).values_list(
            "key", flat=True
        )
    )


def _in_stages(keys: list[str], context: Context) -> Q:
    return contact_in(
        ContactStage.objects.filter(
            context.scope.limit(),
            workspace=context.workspace,
            stage__key__in=keys,
            stage__archived_at__isnull=True,
        )
    )


def _stage(op: str, value: Any, context: Context) -> Q:
    if op == "in":
        return _in_stages(list(value), context)
    matches = _in_stages([value], context)
    return matches if op == "eq" else ~matches


def _days_in_stage(op: str, value: Any, context: Context) -> Q:
    days = Sql("extract(epoch from (%s - {0})) / 86400", F("entered_at"), params=(context.now,))
    rows = ContactStage.objects.filter(context.scope.limit(), workspace=context.workspace)
    if op == "exists":
        return contact_in(rows) if value is not False else ~contact_in(rows)
    if op == "neq":
        return ~contact_in(rows.filter(number_q(days, "eq", value)))
    return contact_in(rows.filter(number_q(days, op, value)))


def _stages_using_segment(workspace: Workspace, segment_id: int) -> list[str]:
    return [
        f"stage “{stage.name}”"
        for stage in Stage.objects.filter(workspace=workspace, archived_at__isnull=True)
        if segment_id in referenced_segments(stage.rule)
    ]


def _stage_rules(workspace: Workspace) -> list[tuple[str, Any]]:
    return [
        (f"stage “{name}”", rule)
        for name, rule in Stage.objects.filter(
            workspace=workspace, archived_at__isnull=True
        ).values_list("name", "rule")
    ]


def _days_in_stage_due(node: dict[str, Any], context: DueContext) -> None:
    rows = ContactStage.objects.filter(context.scope.limit(), workspace=context.workspace)
    context.add_shifted(
        rows.values_list("contact_id", "entered_at"), age_shifts(node["op"], node.get("value"))
    )


def register_lifecycle_fields() -> None:
    if _stages_using_segment not in RULE_USERS:
        RULE_USERS.append(_stages_using_segment)
    if _stage_rules not in RULE_HOLDERS:
        RULE_HOLDERS.append(_stage_rules)
    register_field(FieldSpec("stage", "choice", "Lifecycle stage", _stage, choices=_stage_keys))
    register_field(FieldSpec("days_in_stage", "number", "Days in current stage", _days_in_stage))
    register_due("field:days_in_stage", _days_in_stage_due)
