"""Quiet hours and frequency caps per channel, as a workspace owner sets them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from config.errors import InvalidInput
from contacts.models import Channel
from messaging.models import CapPolicy, SendingPolicy
from messaging.services.pressure import policies_for
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

MAX_CAP = 1000
MAX_PERIOD_HOURS = 24 * 90


def policy_rows(*, workspace: Workspace) -> list[dict[str, Any]]:
    """Each channel's policy as the dispatcher applies it (a channel without a row
    keeps the installation's default), for the settings page and the API."""
    effective = policies_for({workspace.pk})
    rows = []
    for channel in Channel:
        policy = effective[(workspace.pk, channel.value)]
        quiet = policy.quiet
        rows.append(
            {
                "channel": channel.value,
                "channel_label": channel.label,
                "cap_messages": policy.cap_messages,
                "cap_period_hours": int(policy.cap_period.total_seconds() // 3600),
                "cap_policy": policy.cap_policy,
                "quiet_hours_enabled": quiet is not None,
                "quiet_start": (quiet[0] if quiet else dt.time(21, 0)).strftime("%H:%M"),
                "quiet_end": (quiet[1] if quiet else dt.time(8, 0)).strftime("%H:%M"),
            }
        )
    return rows


def _time(value: Any, field: str, errors: dict[str, list[str]]) -> dt.time | None:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        errors[field] = ["a time of day as HH:MM, e.g. 21:00"]
        return None


def _int(value: Any, field: str, low: int, high: int, errors: dict[str, list[str]]) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if isinstance(value, bool) or not low <= number <= high:
        errors[field] = [f"a whole number from {low} to {high}"]
        return None
    return number


@transaction.atomic
def sending_policy_set(
    *,
    workspace: Workspace,
    channel: str,
    actor: Actor,
    cap_messages: Any = None,
    cap_period_hours: Any = 168,
    cap_policy: str = CapPolicy.DEFER,
    quiet_hours_enabled: bool = False,
    quiet_start: Any = "21:00",
    quiet_end: Any = "08:00",
) -> SendingPolicy:
    """Set one channel's policy whole: `cap_messages` empty means no cap."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    cap = _int(cap_messages, "cap_messages", 1, MAX_CAP, errors)
    period = _int(cap_period_hours, "cap_period_hours", 1, MAX_PERIOD_HOURS, errors)
    if cap is not None and period is None and "cap_period_hours" not in errors:
        errors["cap_period_hours"] = ["needed with a cap"]
    if cap_policy not in CapPolicy.values:
        errors["cap_policy"] = [f"one of {', '.join(CapPolicy.values)}"]
    if not isinstance(quiet_hours_enabled, bool):
        errors["quiet_hours_enabled"] = ["true or false"]
    start = _time(quiet_start, "quiet_start", errors)
    end = _time(quiet_end, "quiet_end", errors)
    if quiet_hours_enabled is True and start is not None and start == end:
        errors["quiet_end"] = ["must differ from the start"]
    if errors:
        raise InvalidInput("The sending policy is not valid.", fields=errors)
    assert start is not None and end is not None
    policy, _ = SendingPolicy.objects.select_for_update().get_or_create(
        workspace=workspace, channel=channel
    )
    policy.cap_messages = cap
    policy.cap_period_hours = period or 168
    policy.cap_policy = cap_policy
    policy.quiet_hours_enabled = quiet_hours_enabled
    policy.quiet_start = start
    policy.quiet_end = end
    policy.full_clean()
    policy.save()
    audit_record(
        workspace=workspace,
        action="sending_policy.set",
        actor=actor,
        object_type="sending_policy",
        object_id=policy.pk,
        details={"channel": channel, "cap_messages": cap, "quiet": quiet_hours_enabled},
    )
    return policy
