"""A broadcast's definition, checked: every field of the API's and the dashboard's
body, read and refused with the field and the reason, all at once; the audience's ids
checked against the workspace (one validator for create and the audience-count
preview); what scheduling needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.dateparse import parse_date, parse_time

from campaigns.broadcasts.audience import Audience
from campaigns.broadcasts.parsing import instant as _instant
from campaigns.broadcasts.parsing import whole_number as _int
from campaigns.broadcasts.variants import parse_variants, variant_errors
from campaigns.models import Broadcast, ScheduleKind, WinnerMetric
from config.errors import field_errors
from contacts.models import Channel, Segment
from lifecycle.models import Stage
from messaging.models import Template
from workspaces.models import Workspace

SCALARS = (
    "name",
    "channel",
    "template_id",
    "schedule",
    "send_at",
    "local_date",
    "local_time",
    "throttle_per_hour",
    "test_pool_percent",
    "winner_wait_hours",
    "winner_metric",
    "conversion_event",
    "conversion_window_days",
)
ID_LISTS = (
    "include_segment_ids",
    "include_stage_ids",
    "exclude_segment_ids",
    "exclude_stage_ids",
)
FIELDS = (*SCALARS, *ID_LISTS, "variants")


def _ids(value: Any, field: str, errors: dict[str, list[str]]) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        errors[field] = ["must be a list of ids"]
        return []
    out: list[int] = []
    for item in value:
        number = _int(item, field, errors, low=1)
        if number is None:
            errors[field] = ["must be a list of ids"]
            return []
        if number not in out:
            out.append(number)
    return out


def _parsed(raw: Any, kind: type, parse: Any, errors: list[str], reason: str) -> Any:
    """A date or time given as text (or already parsed); None for no value. Text that
    is not one (2026-02-30, 25:00) adds `reason`."""
    try:
        value = raw if isinstance(raw, kind) else parse(str(raw)) if raw else None
    except ValueError:  # well formed but not a real day or time
        value = None
    if raw and value is None:
        errors.append(reason)
    return value


TEXTS = (
    "name",
    "channel",
    "schedule",
    "send_at",
    "local_date",
    "local_time",
    "winner_metric",
    "conversion_event",
)


def _apply_texts(broadcast: Broadcast, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    for name in TEXTS:
        # Text or null: an object, a list or a number is neither a value nor "no value".
        if name in data and not isinstance(data[name], str | dt.date | dt.time | None):
            errors[name] = ["must be a string"]
    given = {name: data[name] for name in data if name not in errors}
    if "name" in given:
        broadcast.name = str(given["name"] or "").strip()
    if "channel" in given:
        broadcast.channel = str(given["channel"] or "")
    if "schedule" in given:
        broadcast.schedule = str(given["schedule"] or "")
    if "winner_metric" in given:
        broadcast.winner_metric = str(given["winner_metric"] or "")
    if "conversion_event" in given:
        if given["conversion_event"] is None:
            errors["conversion_event"] = ["must be a string (empty: the purchase events)"]
        else:
            broadcast.conversion_event = str(given["conversion_event"]).strip()
    if "send_at" in given:
        broadcast.send_at = _instant(given["send_at"], "send_at", errors)
    if "local_date" in given:
        broadcast.local_date = _parsed(
            given["local_date"],
            dt.date,
            parse_date,
            errors.setdefault("local_date", []),
            "a date, YYYY-MM-DD",
        )
    if "local_time" in given:
        broadcast.local_time = _parsed(
            given["local_time"],
            dt.time,
            parse_time,
            errors.setdefault("local_time", []),
            "a time, HH:MM",
        )
    for name in ("local_date", "local_time"):
        if errors.get(name) == []:
            del errors[name]


def _apply_numbers(
    broadcast: Broadcast, data: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    if "throttle_per_hour" in data:
        broadcast.throttle_per_hour = _int(
            data["throttle_per_hour"], "throttle_per_hour", errors, low=1
        )
    if "test_pool_percent" in data:
        broadcast.test_pool_percent = (
            _int(data["test_pool_percent"], "test_pool_percent", errors) or 0
        )
    if "winner_wait_hours" in data:
        wait = _int(data["winner_wait_hours"], "winner_wait_hours", errors, low=1)
        broadcast.winner_wait_hours = wait or broadcast.winner_wait_hours
    if "conversion_window_days" in data:
        days = _int(data["conversion_window_days"], "conversion_window_days", errors, low=1)
        if data["conversion_window_days"] in (None, ""):
            errors["conversion_window_days"] = ["a whole number of days, 1-90"]
        elif days is not None and days > 90:
            errors["conversion_window_days"] = ["1-90"]
        elif days is not None:
            broadcast.conversion_window_days = days


def apply_data(broadcast: Broadcast, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Copy `data` onto the broadcast, collecting every problem by field. Returns the
    parsed variants (None: leave them as they are)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise field_errors({key: ["unknown field"] for key in unknown})
    errors: dict[str, list[str]] = {}
    workspace = broadcast.workspace
    _apply_texts(broadcast, data, errors)
    if "template_id" in data:
        template_id = _int(data["template_id"], "template_id", errors, low=1)
        template = (
            Template.objects.filter(workspace=workspace, pk=template_id).first()
            if template_id
            else None
        )
        if template is None:
            errors.setdefault("template_id", ["no such template"])
        else:
            broadcast.template = template
    for field in ID_LISTS:
        if field in data:
            setattr(broadcast, field, _ids(data[field], field, errors))
    _apply_numbers(broadcast, data, errors)
    variants = parse_variants(broadcast, data["variants"], errors) if "variants" in data else None
    errors.update(_errors(broadcast, variants, errors))
    if errors:
        raise field_errors(errors)
    if variants:
        default = next(v for v in variants if v["is_default"])
        broadcast.template = default["template"]
    return variants


def _errors(
    broadcast: Broadcast,
    variants: list[dict[str, Any]] | None,
    found: dict[str, list[str]],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not broadcast.name:
        errors["name"] = ["must not be blank"]
    if broadcast.channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    template = broadcast.template if broadcast.template_id else None
    if template is None and "template_id" not in found and not variants:
        errors["template_id"] = ["is required"]
    elif template is not None and template.channel != broadcast.channel:
        errors["template_id"] = [f"a {broadcast.channel} template"]
    if broadcast.schedule not in ScheduleKind.values:
        errors["schedule"] = [f"one of {', '.join(ScheduleKind.values)}"]
    if broadcast.test_pool_percent > 100:
        errors["test_pool_percent"] = ["0-100"]
    if broadcast.winner_metric not in WinnerMetric.values:
        errors["winner_metric"] = [f"one of {', '.join(WinnerMetric.values)}"]
    if len(broadcast.conversion_event) > 100:
        errors["conversion_event"] = ["at most 100 characters"]
    if variants and "variants" not in found:
        errors.update(variant_errors(broadcast, variants))
    return errors


def _audience_id_errors(
    workspace: Workspace, ids: Mapping[str, Sequence[int]]
) -> dict[str, list[str]]:
    """Ids that are not this workspace's segments or stages (another workspace's ids
    are as unknown here as ids that never existed)."""
    errors: dict[str, list[str]] = {}
    for field, model in (
        ("include_segment_ids", Segment),
        ("exclude_segment_ids", Segment),
        ("include_stage_ids", Stage),
        ("exclude_stage_ids", Stage),
    ):
        wanted = set(ids.get(field) or ())
        if not wanted:
            continue
        found = set(
            model.objects.filter(workspace=workspace, pk__in=wanted).values_list("pk", flat=True)
        )
        if wanted - found:
            errors[field] = [f"no such id: {', '.join(map(str, sorted(wanted - found)))}"]
    return errors


def check_audience_ids(broadcast: Broadcast) -> None:
    errors = _audience_id_errors(
        broadcast.workspace, {field: getattr(broadcast, field) for field in ID_LISTS}
    )
    if errors:
        raise field_errors(errors)


def audience_validate(*, workspace: Workspace, data: Mapping[str, Any]) -> Audience:
    """An audience as a request states it (channel and the four id lists), checked as
    broadcast_create checks a broadcast's: the same parsing of the lists and the same
    400 naming each field with an unknown id. The audience-count preview uses it, so a
    preview and a create never disagree about the same ids."""
    errors: dict[str, list[str]] = {}
    channel = data.get("channel")
    if channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    ids = {field: _ids(data.get(field), field, errors) for field in ID_LISTS}
    if errors:
        raise field_errors(errors)
    errors = _audience_id_errors(workspace, ids)
    if errors:
        raise field_errors(errors)
    return Audience(channel=str(channel), **ids)


def schedule_errors(broadcast: Broadcast) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not broadcast.include_segment_ids and not broadcast.include_stage_ids:
        errors["include_segment_ids"] = ["include at least one segment or stage"]
    if broadcast.schedule == ScheduleKind.AT and broadcast.send_at is None:
        errors["send_at"] = ["required to send at a time"]
    if broadcast.schedule == ScheduleKind.LOCAL:
        if broadcast.local_date is None:
            errors["local_date"] = ["required to send at a local time"]
        if broadcast.local_time is None:
            errors["local_time"] = ["required to send at a local time"]
    if broadcast.is_ab_test and broadcast.variants.count() < 2:
        errors["test_pool_percent"] = ["a test pool needs at least two variants"]
    if broadcast.schedule not in (ScheduleKind.NOW, ScheduleKind.AT) and (
        broadcast.variants.filter(send_at__isnull=False).exists()
    ):
        errors["variants"] = ["a variant's own send_at needs a broadcast sent now or at a time"]
    return errors
