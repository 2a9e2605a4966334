"""The reward catalogue and the code pools: create, edit, delete rewards; add codes,
uploaded or generated. Every field is checked at once and refused with the reason."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, field_errors
from loyalty.models import Reward, RewardCode, RewardKind
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

FIELDS = ("name", "kind", "description", "points_cost", "stock", "per_contact_limit", "active")
# No 0/O, 1/I/L: a code read aloud or typed from a phone is not mistaken. 32 symbols,
# 12 of them: 60 bits from the secrets module, so codes cannot be guessed from others.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_SYMBOLS = 12
MAX_CODES_PER_CALL = 10_000
MAX_CODE_CHARS = 100
# The schema's patterns, matched as the schema's validators do (re.match: a "$" also
# takes a final newline, which is then stripped).
CODE_PATTERN = "^[!-~]{1,100}$"
PREFIX_PATTERN = "^[A-Za-z0-9-]{0,20}$"


def _nullable_whole(
    data: dict[str, Any], field: str, errors: Errors, low: int
) -> tuple[bool, int | None]:
    if field not in data:
        return False, None
    if data[field] is None:
        return True, None
    value = whole(data[field], field, errors, low=low, high=MAX_POINTS)
    return value is not None, value


def _apply(reward: Reward, data: dict[str, Any], errors: Errors) -> None:
    unknown(data, FIELDS, errors)
    for field, limit, required in (("name", 200, True), ("description", 1000, False)):
        if field in data:
            value = text(data[field], field, errors, limit=limit, required=required)
            if value is not None:
                setattr(reward, field, value)
    if "kind" in data:
        if data["kind"] not in RewardKind.values:
            errors["kind"] = [f"one of {', '.join(RewardKind.values)}"]
        else:
            reward.kind = data["kind"]
    if "points_cost" in data:
        cost = whole(data["points_cost"], "points_cost", errors, low=1, high=MAX_POINTS)
        if cost is not None:
            reward.points_cost = cost
    for field, low in (("stock", 0), ("per_contact_limit", 1)):
        given, bound = _nullable_whole(data, field, errors, low)
        if given:
            setattr(reward, field, bound)
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = ["must be true or false"]
        else:
            reward.active = data["active"]
    for field in ("name", "kind", "points_cost"):
        if not getattr(reward, field) and field not in errors:
            errors[field] = ["is required"]


@transaction.atomic
def reward_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Reward:
    reward = Reward(workspace=workspace, name="", kind="", points_cost=0)
    errors: Errors = {}
    _apply(reward, data, errors)
    if errors:
        raise field_errors(errors)
    save_or_conflict(reward, "A reward with this name exists.")
    audit_record(
        workspace=workspace,
        action="loyalty.reward_created",
        actor=actor,
        object_type="loyalty_reward",
        object_id=reward.pk,
    )
    return reward


@transaction.atomic
def reward_update(*, reward: Reward, data: dict[str, Any], actor: Actor) -> Reward:
    """Edit a reward. Its kind stays once it has codes or redemptions: a discount code
    reward's pool would lose its meaning."""
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    errors: Errors = {}
    kind = reward.kind
    _apply(reward, data, errors)
    if errors:
        raise field_errors(errors)
    if reward.kind != kind and (reward.codes.exists() or reward.redemptions.exists()):
        raise Conflict(
            "The kind of a reward with codes or redemptions cannot change.",
            fields={"kind": ["cannot change once the reward has codes or redemptions"]},
        )
    reward.updated_at = timezone.now()
    fields = [f for f in FIELDS if f in data] + ["updated_at"]
    save_or_conflict(reward, "A reward with this name exists.", update_fields=fields)
    audit_record(
        workspace=reward.workspace,
        action="loyalty.reward_updated",
        actor=actor,
        object_type="loyalty_reward",
        object_id=reward.pk,
        details={"fields": sorted(data)},
    )
    return reward


@transaction.atomic
def reward_delete(*, reward: Reward, actor: Actor) -> None:
    """Delete a reward never redeemed (with its unissued codes); one that was is kept
    for its redemptions' sake: switch it off instead (409). The reward's row lock keeps
    a redemption from landing between the check and the delete."""
    reward = Reward.objects.select_for_update().get(pk=reward.pk)
    if reward.redemptions.exists():
        raise Conflict(
            "This reward has been redeemed: switch it off (active false) instead.",
            fields={"active": ["set to false instead of deleting"]},
        )
    audit_record(
        workspace=reward.workspace,
        action="loyalty.reward_deleted",
        actor=actor,
        object_type="loyalty_reward",
        object_id=reward.pk,
        details={"name": reward.name},
    )
    reward.delete()


def code_generate(prefix: str = "") -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    grouped = "-".join(symbols[i : i + 4] for i in range(0, CODE_SYMBOLS, 4))
    return f"{prefix}{grouped}"


def _uploaded(value: Any, errors: Errors) -> list[str]:
    if not isinstance(value, list) or not value:
        errors["codes"] = ["must be a non-empty list of codes"]
        return []
    if len(value) > MAX_CODES_PER_CALL:
        errors["codes"] = [f"at most {MAX_CODES_PER_CALL} codes at a time"]
        return []
    cleaned: list[str] = []
    for index, code in enumerate(value):
        if not isinstance(code, str) or not re.match(CODE_PATTERN, code):
            errors[f"codes[{index}]"] = [f"1-{MAX_CODE_CHARS} visible ASCII characters, no spaces"]
            continue
        cleaned.append(code.strip())
    return cleaned


def _prefix(value: Any, errors: Errors) -> str:
    if not isinstance(value, str) or not re.match(PREFIX_PATTERN, value):
        errors["prefix"] = ["up to 20 letters, digits or '-'"]
        return ""
    return value.strip().upper()


@transaction.atomic
def reward_codes_add(*, reward: Reward, data: dict[str, Any], actor: Actor) -> dict[str, int]:
    """Add codes to a discount code reward's pool: `codes` (uploaded, e.g. from the
    shop's coupon export) or `generate` (how many new ones, with an optional
    `prefix`). A code already in the workspace is not added twice: it is counted in
    `duplicates`."""
    errors: Errors = {}
    unknown(data, ("codes", "generate", "prefix"), errors)
    if ("codes" in data) == ("generate" in data):
        errors.setdefault("codes", ["give either codes or generate"])
    codes: list[str] = []
    if "codes" in data and "generate" not in data:
        codes = _uploaded(data["codes"], errors)
    prefix = _prefix(data["prefix"], errors) if "prefix" in data else ""
    count = 0
    if "generate" in data:
        count = whole(data["generate"], "generate", errors, low=1, high=MAX_CODES_PER_CALL) or 0
    if errors:
        raise field_errors(errors)
    if reward.kind != RewardKind.DISCOUNT_CODE:
        raise Conflict(
            "Only a discount code reward has codes.",
            fields={"kind": ["only a discount code reward has codes"]},
        )
    now = timezone.now()

    def insert(values: list[str]) -> int:
        rows = [
            RewardCode(workspace_id=reward.workspace_id, reward=reward, code=c, created_at=now)
            for c in dict.fromkeys(values)
        ]
        before = RewardCode.objects.filter(workspace_id=reward.workspace_id, reward=reward).count()
        RewardCode.objects.bulk_create(rows, ignore_conflicts=True)
        return (
            RewardCode.objects.filter(workspace_id=reward.workspace_id, reward=reward).count()
            - before
        )

    if codes:
        added = insert(codes)
        result = {"added": added, "duplicates": len(codes) - added}
    else:
        added = 0
        while added < count:  # a collision (about 1 in 2**60 per pair) is drawn again
            added += insert([code_generate(prefix) for _ in range(count - added)])
        result = {"added": added, "duplicates": 0}
    audit_record(
        workspace=reward.workspace,
        action="loyalty.reward_codes_added",
        actor=actor,
        object_type="loyalty_reward",
        object_id=reward.pk,
        details=result,
    )
    return result
