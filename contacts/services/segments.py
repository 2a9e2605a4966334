"""Segments: saved rules."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from contacts.models import Segment
from contacts.rules import (
    RULE_USERS,
    referenced_segments,
    segment_change_errors,
    validate_rule,
)
from contacts.rules.validation import MAX_EXPANDED_NODES, MAX_SEGMENT_DEPTH
from contacts.services.segment_members import segment_lock, segment_members_invalidate
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

MAX_DESCRIPTION = 2000


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {
        key: ["unknown field"] for key in data if key not in ("name", "description", "rule")
    }
    if not partial:
        for required in ("name", "rule"):
            if required not in data:
                errors[required] = ["is required"]
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        errors["name"] = ["must not be blank"]
    if "description" in data and not isinstance(data["description"], str):
        errors["description"] = ["must be a string"]
    elif len(data.get("description") or "") > MAX_DESCRIPTION:
        errors["description"] = [f"is longer than {MAX_DESCRIPTION} characters"]
    if "name" in data and isinstance(data["name"], str) and len(data["name"].strip()) > 200:
        errors["name"] = ["is longer than 200 characters"]
    if errors:
        first, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
    cleaned = dict(data)
    if "name" in cleaned:
        cleaned["name"] = cleaned["name"].strip()[:200]
    return cleaned


@transaction.atomic
def segment_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Segment:
    cleaned = _clean(data, partial=False)
    validate_rule(cleaned["rule"], workspace=workspace)
    segment = Segment(workspace=workspace, created_by=actor.user, **cleaned)
    save_or_conflict(segment, "A segment has this name.")
    # Readers evaluate the rule live until a worker has stored its members.
    segment_members_invalidate(segment=segment)
    audit_record(
        workspace=workspace,
        action="segment.created",
        actor=actor,
        object_type="segment",
        object_id=segment.pk,
    )
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, data: dict[str, Any], actor: Actor) -> Segment:
    cleaned = _clean(data, partial=True)
    if "rule" in cleaned:
        validate_rule(cleaned["rule"], workspace=segment.workspace, segment_id=segment.pk)
        users = segment_change_errors(
            workspace=segment.workspace, segment_id=segment.pk, rule=cleaned["rule"]
        )
        if users:
            reason = (
                f"{', '.join(users)} use{'s' if len(users) == 1 else ''} this segment and "
                f"would then go over the limits ({MAX_EXPANDED_NODES} conditions with the "
                f"segments a rule uses, {MAX_SEGMENT_DEPTH} levels of segments)"
            )
            raise InvalidInput(f"rule: {reason}", fields={"rule": [reason]})
    rule_changed = "rule" in cleaned and cleaned["rule"] != segment.rule
    for key, value in cleaned.items():
        setattr(segment, key, value)
    segment.updated_at = timezone.now()
    # Only what was edited: the members' columns belong to the builds.
    save_or_conflict(
        segment, "A segment has this name.", update_fields=[*sorted(cleaned), "updated_at"]
    )
    if rule_changed:
        segment_members_invalidate(segment=segment)
        segment.members_ready = False
    audit_record(
        workspace=segment.workspace,
        action="segment.updated",
        actor=actor,
        object_type="segment",
        object_id=segment.pk,
        details={"fields": sorted(cleaned)},
    )
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    """Delete a segment no rule uses (other segments, stages, journeys)."""
    users = [
        f"segment “{other.name}”"
        for other in Segment.objects.filter(workspace=segment.workspace).exclude(pk=segment.pk)
        if segment.pk in referenced_segments(other.rule)
    ]
    for find_users in RULE_USERS:
        users += find_users(segment.workspace, segment.pk)
    if users:
        raise Conflict(
            "Rules use this segment.", fields={"segment": [f"used by {', '.join(users)}"]}
        )
    audit_record(
        workspace=segment.workspace,
        action="segment.deleted",
        actor=actor,
        object_type="segment",
        object_id=segment.pk,
        details={"name": segment.name},
    )
    # The lock every writer of the segment's rows (and of rollups per segment) takes:
    # none is midway when its rows go.
    segment_lock(segment_id=segment.pk)
    segment.delete()
