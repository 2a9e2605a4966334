"""Dashboard page: the programme's settings (Settings → Loyalty), with its tiers and
reward catalogue (their forms: views_catalogue.py). Plain forms whose fields the
services check as the API's bodies; nothing a marketer types is JSON."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from config.errors import DomainError
from loyalty import selectors, services
from loyalty.models import Programme, RewardKind, TierBasis
from loyalty.selectors_tiers import tier_rule_for
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role, Workspace

BLANK_EVENT_ROWS = 3
BLANK_WINDOW_ROWS = 2
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _event_rows(programme: Programme) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": name, "points": points} for name, points in sorted(programme.event_points.items())
    ]
    return rows + [{"name": "", "points": ""}] * BLANK_EVENT_ROWS


def _window_rows(programme: Programme, workspace: Workspace) -> list[dict[str, Any]]:
    """The multiplier windows as the form shows them: times in the workspace's zone,
    to the minute (what a datetime-local box takes)."""
    zone = zoneinfo.ZoneInfo(workspace.time_zone)
    rows: list[dict[str, Any]] = [
        {
            "name": window["name"],
            "factor": window["factor"],
            "starts_at": dt.datetime.fromisoformat(window["starts_at"])
            .astimezone(zone)
            .strftime(LOCAL_MINUTE),
            "ends_at": dt.datetime.fromisoformat(window["ends_at"])
            .astimezone(zone)
            .strftime(LOCAL_MINUTE),
        }
        for window in programme.multipliers
    ]
    return rows + [{"name": "", "factor": "", "starts_at": "", "ends_at": ""}] * BLANK_WINDOW_ROWS


def _local_moment(raw: str, workspace: Workspace) -> str:
    """A datetime-local value (the workspace's wall clock) as an ISO time with its
    offset; anything else is passed on for the service to name the problem."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", raw.strip()):
        return raw
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    return moment.replace(tzinfo=zoneinfo.ZoneInfo(workspace.time_zone)).isoformat()


def _posted_windows(post: Any) -> list[dict[str, str]]:
    """The multiplier rows as typed; a row left empty is no window."""
    rows = zip(
        post.getlist("window_name"),
        post.getlist("window_factor"),
        post.getlist("window_starts_at"),
        post.getlist("window_ends_at"),
        strict=False,
    )
    return [
        {"name": name, "factor": factor.strip(), "starts_at": starts, "ends_at": ends}
        for name, factor, starts, ends in rows
        if any(value.strip() for value in (name, factor, starts, ends))
    ]


def _window_errors(errors: dict[str, list[str]]) -> list[str]:
    """The service's `multipliers[0].factor` reasons as a marketer reads them: "Window
    1, factor: …"."""
    shown = []
    for field, reasons in errors.items():
        found = re.fullmatch(r"multipliers\[(\d+)\]\.(\w+)", field)
        if found:
            what = found[2].replace("_at", "").replace("_", " ")
            shown.append(f"Window {int(found[1]) + 1}, {what}: {' '.join(reasons)}")
    return shown


def whole_or_text(raw: str) -> Any:
    """A form's number as the service expects it: a whole number when it is one (the
    service says what is wrong with anything else)."""
    raw = raw.strip()
    return int(raw) if raw.lstrip("-").isdigit() else raw


def _programme_data(post: Any, workspace: Workspace) -> dict[str, Any]:
    event_points: dict[str, Any] = {}
    for name, points in zip(post.getlist("event_name"), post.getlist("event_points"), strict=False):
        if name.strip() or points.strip():
            event_points[name] = whole_or_text(points)
    cap = post.get("daily_cap", "").strip()
    data = {
        "enabled": post.get("enabled") == "on",
        "points_per_unit": post.get("points_per_unit", "").strip(),
        "event_points": event_points,
        "daily_cap": whole_or_text(cap) if cap else None,
        # A form without the field (an older page) leaves it alone.
        **(
            {"birthday_attribute": post.get("birthday_attribute", "").strip()}
            if "birthday_attribute" in post
            else {}
        ),
        # Blank (or a form without the field): the value stays as it is.
        **(
            {"value_per_point": value} if (value := post.get("value_per_point", "").strip()) else {}
        ),
    }
    for field in PERIOD_FIELDS:
        raw = post.get(field, "").strip()
        # An empty box: never expire / no reminder / no grace / the last 12 months.
        data[field] = whole_or_text(raw) if raw else BLANK_PERIODS.get(field)
    if "tier_basis" in post:
        data["tier_basis"] = post.get("tier_basis", "")
    # A form without the multiplier rows (an older page) leaves the windows alone.
    if "window_name" in post:
        data["multipliers"] = [
            {
                **row,
                "starts_at": _local_moment(row["starts_at"], workspace),
                "ends_at": _local_moment(row["ends_at"], workspace),
            }
            for row in _posted_windows(post)
        ]
    return data


# Whole numbers of months or days a marketer types in a box (services/programme.py).
PERIOD_FIELDS = ("expiry_months", "expiry_reminder_days", "tier_grace_days", "tier_window_days")
BLANK_PERIODS = {"tier_grace_days": 0, "tier_window_days": 365}


def _form(programme: Programme) -> dict[str, Any]:
    form: dict[str, Any] = {
        "enabled": programme.enabled,
        "points_per_unit": str(programme.points_per_unit),
        "daily_cap": "" if programme.daily_cap is None else programme.daily_cap,
        "birthday_attribute": programme.birthday_attribute,
        "value_per_point": f"{programme.value_per_point:.4f}",
        "tier_basis": programme.tier_basis,
    }
    for field in PERIOD_FIELDS:
        value = getattr(programme, field)
        form[field] = "" if value in (None, 0) else value
    return form


def settings_page(
    request: WorkspaceRequest, programme: Programme, errors: dict[str, list[str]], **extra: Any
) -> HttpResponse:
    """The settings page; `extra` carries a refused form's values and errors."""
    tiers = list(selectors.tiers_for_workspace(workspace=request.workspace))
    return render(
        request,
        "loyalty/settings.html",
        {
            "programme": programme,
            "form": extra.pop("form", None) or _form(programme),
            "event_rows": extra.pop("event_rows", None) or _event_rows(programme),
            "window_rows": extra.pop("window_rows", None)
            or _window_rows(programme, request.workspace),
            "window_errors": _window_errors(errors),
            "tier_rule": tier_rule_for(workspace_id=request.workspace.pk),
            "tier_bases": TierBasis.choices,
            "tier_edit": extra.pop("tier_edit", {}),
            "reward_edit": extra.pop("reward_edit", {}),
            "rewards": selectors.rewards_for_workspace(workspace=request.workspace),
            "tiers": tiers,
            # Each tier with the one below it: where its members go if it is deleted.
            "tier_rows": [
                {"tier": tier, "below": tiers[i - 1] if i else None} for i, tier in enumerate(tiers)
            ],
            "tier_values": extra.pop("tier_values", {"multiplier": "1"}),
            "tier_errors": extra.pop("tier_errors", {}),
            "kinds": RewardKind.choices,
            "errors": errors,
            "reward_values": extra.pop("reward_values", {"kind": RewardKind.DISCOUNT_CODE}),
            "reward_errors": extra.pop("reward_errors", {}),
            **extra,
        },
    )


@workspace_view(write_methods_role=Role.ADMIN)
def loyalty_settings(request: WorkspaceRequest) -> HttpResponse:
    programme = services.programme_get(workspace=request.workspace)
    if request.method != "POST":
        return settings_page(request, programme, {})
    data = _programme_data(request.POST, request.workspace)
    try:
        services.programme_update(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        rows = [{"name": n, "points": p} for n, p in data["event_points"].items()]
        return settings_page(
            request,
            programme,
            exc.fields or {"enabled": [exc.message]},
            form={
                "enabled": data["enabled"],
                "tier_basis": data.get("tier_basis", programme.tier_basis),
                **{
                    field: request.POST.get(field, "")
                    for field in (
                        "points_per_unit",
                        "daily_cap",
                        "birthday_attribute",
                        "value_per_point",
                        *PERIOD_FIELDS,
                    )
                },
            },
            event_rows=rows + [{"name": "", "points": ""}] * BLANK_EVENT_ROWS,
            window_rows=_posted_windows(request.POST)
            + [{"name": "", "factor": "", "starts_at": "", "ends_at": ""}] * BLANK_WINDOW_ROWS,
        )
    messages.success(request, "Loyalty programme saved.")
    return redirect("loyalty:settings", slug=request.workspace.slug)
