"""The programme's settings: whether it runs and how points are earned. Every field
of a change is checked at once and refused with the field and the reason."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import field_errors
from contacts.validation import ATTRIBUTE_KEY, parse_datetime
from loyalty.models import Programme, TierBasis
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

FIELDS = (
    "enabled",
    "points_per_unit",
    "event_points",
    "multipliers",
    "daily_cap",
    "birthday_attribute",
    "expiry_months",
    "expiry_reminder_days",
    "tier_grace_days",
    "tier_basis",
    "tier_window_days",
    "value_per_point",
)
# (field, highest value, whether none is allowed): whole numbers of months or days.
_PERIODS = (
    ("expiry_months", 120, True),
    ("expiry_reminder_days", 365, True),
    ("tier_grace_days", 3650, False),
    ("tier_window_days", 1095, False),
)
MAX_EVENT_RULES = 50
MAX_MULTIPLIERS = 20


def programme_get(*, workspace: Workspace) -> Programme:
    """The workspace's programme; one not yet set up reads as the defaults (off)."""
    return Programme.objects.filter(workspace=workspace).first() or Programme(workspace=workspace)


# Decimals travel as strings ("1.5"), as the API's other amounts do: exact, no float.
PER_UNIT_PATTERN = r"^(?:[0-9]{1,4}(?:\.[0-9]{1,2})?|10000(?:\.00?)?)$"
VALUE_PATTERN = r"^[0-9]{1,6}(?:\.[0-9]{1,4})?$"
FACTOR_PATTERN = r"^(?:[1-9](?:\.[0-9]{1,2})?|10(?:\.00?)?)$"


def decimal(value: Any, field: str, errors: Errors, *, pattern: str, says: str) -> Decimal | None:
    if not isinstance(value, str) or not re.match(pattern, value):
        errors[field] = [says]
        return None
    return Decimal(value).quantize(Decimal("0.01"))


def _event_points(value: Any, errors: Errors) -> dict[str, int] | None:
    if not isinstance(value, dict):
        errors["event_points"] = ["must be an object of event name to points"]
        return None
    if len(value) > MAX_EVENT_RULES:
        errors["event_points"] = [f"at most {MAX_EVENT_RULES} events"]
        return None
    cleaned: dict[str, int] = {}
    for name, points in value.items():
        field = f"event_points.{name}"[:120]
        if not name.strip() or len(name) > 200:
            errors[field] = ["an event name of 1-200 characters"]
            continue
        number = whole(points, field, errors, low=1, high=MAX_POINTS)
        if number is not None:
            cleaned[name.strip()] = number
    return cleaned


def _multiplier(item: Any, field: str, errors: Errors) -> dict[str, str] | None:
    if not isinstance(item, dict):
        errors[field] = ["must be an object with name, factor, starts_at, ends_at"]
        return None
    inner: Errors = {}
    unknown(item, ("name", "factor", "starts_at", "ends_at"), inner)
    name = text(item.get("name"), "name", inner, limit=100, required=True)
    factor = decimal(
        item.get("factor"),
        "factor",
        inner,
        pattern=FACTOR_PATTERN,
        says='a number from 1 to 10 as a string, at most 2 decimals ("1.5")',
    )
    moments: dict[str, dt.datetime] = {}
    for key in ("starts_at", "ends_at"):
        moment, problem = parse_datetime(item.get(key))
        if problem:
            inner[key] = [problem]
        elif moment is not None:
            moments[key] = moment
    if len(moments) == 2 and moments["ends_at"] <= moments["starts_at"]:
        inner["ends_at"] = ["must be after starts_at"]
    if inner:
        errors.update({f"{field}.{key}": reasons for key, reasons in inner.items()})
        return None
    return {
        "name": str(name),
        "factor": str(factor),
        "starts_at": moments["starts_at"].isoformat(),
        "ends_at": moments["ends_at"].isoformat(),
    }


def _multipliers(value: Any, errors: Errors) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        errors["multipliers"] = ["must be a list"]
        return None
    if len(value) > MAX_MULTIPLIERS:
        errors["multipliers"] = [f"at most {MAX_MULTIPLIERS} windows"]
        return None
    cleaned = [_multiplier(item, f"multipliers[{i}]", errors) for i, item in enumerate(value)]
    return [item for item in cleaned if item is not None]


def _periods(programme: Programme, data: dict[str, Any], errors: Errors) -> None:
    """Expiry, the tiers' window and grace period, and what reaches a tier."""
    if "tier_basis" in data:
        if data["tier_basis"] not in TierBasis.values:
            errors["tier_basis"] = [f"one of {', '.join(TierBasis.values)}"]
        else:
            programme.tier_basis = data["tier_basis"]
    for field, high, nullable in _PERIODS:
        if field not in data:
            continue
        if data[field] is None and nullable:
            setattr(programme, field, None)
            continue
        value = whole(
            data[field], field, errors, low=0 if field == "tier_grace_days" else 1, high=high
        )
        if value is not None:
            setattr(programme, field, value)
    months, days = programme.expiry_months, programme.expiry_reminder_days
    if days is not None and months is not None and days >= months * 28 and not errors:
        errors["expiry_reminder_days"] = ["must be shorter than the expiry period"]


def _birthday_attribute(programme: Programme, data: dict[str, Any], errors: Errors) -> None:
    if "birthday_attribute" not in data:
        return
    name = data["birthday_attribute"]
    if not isinstance(name, str) or not ATTRIBUTE_KEY.match(name):
        errors["birthday_attribute"] = [
            "an attribute name: letters, digits and _, not starting with a digit"
        ]
    else:
        programme.birthday_attribute = name


def _apply(programme: Programme, data: dict[str, Any]) -> None:
    errors: Errors = {}
    unknown(data, FIELDS, errors)
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            errors["enabled"] = ["must be true or false"]
        else:
            programme.enabled = data["enabled"]
    if "points_per_unit" in data:
        rate = decimal(
            data["points_per_unit"],
            "points_per_unit",
            errors,
            pattern=PER_UNIT_PATTERN,
            says='a number from 0 to 10000 as a string, at most 2 decimals ("2.5")',
        )
        if rate is not None:
            programme.points_per_unit = rate
    if "value_per_point" in data:
        value = data["value_per_point"]
        if not isinstance(value, str) or not re.match(VALUE_PATTERN, value):
            errors["value_per_point"] = ['a number from 0 as a string, at most 4 decimals ("0.01")']
        else:
            programme.value_per_point = Decimal(value).quantize(Decimal("0.0001"))
    if "event_points" in data:
        fixed = _event_points(data["event_points"], errors)
        if fixed is not None:
            programme.event_points = fixed
    if "multipliers" in data:
        windows = _multipliers(data["multipliers"], errors)
        if windows is not None:
            programme.multipliers = windows
    if "daily_cap" in data:
        cap = data["daily_cap"]
        if cap is None:
            programme.daily_cap = None
        else:
            checked = whole(cap, "daily_cap", errors, low=1, high=MAX_POINTS)
            if checked is not None:
                programme.daily_cap = checked
    _birthday_attribute(programme, data, errors)
    _periods(programme, data, errors)
    if errors:
        raise field_errors(errors)


@transaction.atomic
def programme_update(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Programme:
    """Change the settings. Switching the programme on sets `enabled_at`: events from
    before it earn nothing (turning a programme on, or on again after a pause, does
    not pay out the past). Switching expiry on sets `expiry_from`: inactivity counts
    from then at the earliest."""
    programme, _ = Programme.objects.select_for_update().get_or_create(workspace=workspace)
    was_enabled, had_expiry = programme.enabled, programme.expiry_months is not None
    _apply(programme, data)
    now = timezone.now()
    if programme.enabled and not was_enabled:
        programme.enabled_at = now
    if programme.expiry_months is not None and not had_expiry:
        programme.expiry_from = now
    programme.updated_at = now
    programme.save(update_fields=[*FIELDS, "enabled_at", "expiry_from", "updated_at"])
    audit_record(
        workspace=workspace,
        action="loyalty.programme_updated",
        actor=actor,
        object_type="loyalty_programme",
        object_id=programme.pk,
        details={"fields": sorted(data)},
    )
    return programme
