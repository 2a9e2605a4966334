"""Dashboard page: the programme's settings and the reward catalogue (Settings →
Loyalty). Plain forms whose fields the services check as the API's bodies; nothing a
marketer types is JSON."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from loyalty import selectors, services
from loyalty.models import Programme, RewardKind
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role

BLANK_EVENT_ROWS = 3


def _event_rows(programme: Programme) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"name": name, "points": points} for name, points in sorted(programme.event_points.items())
    ]
    return rows + [{"name": "", "points": ""}] * BLANK_EVENT_ROWS


def _whole_or_text(raw: str) -> Any:
    """A form's number as the service expects it: a whole number when it is one (the
    service says what is wrong with anything else)."""
    raw = raw.strip()
    return int(raw) if raw.lstrip("-").isdigit() else raw


def _programme_data(post: Any) -> dict[str, Any]:
    event_points: dict[str, Any] = {}
    for name, points in zip(post.getlist("event_name"), post.getlist("event_points"), strict=False):
        if name.strip() or points.strip():
            event_points[name] = _whole_or_text(points)
    cap = post.get("daily_cap", "").strip()
    data = {
        "enabled": post.get("enabled") == "on",
        "points_per_unit": post.get("points_per_unit", "").strip(),
        "event_points": event_points,
        "daily_cap": _whole_or_text(cap) if cap else None,
        # Blank (or a form without the field): the value stays as it is.
        **(
            {"value_per_point": value} if (value := post.get("value_per_point", "").strip()) else {}
        ),
    }
    for field in PERIOD_FIELDS:
        raw = post.get(field, "").strip()
        # An empty box: never expire / no reminder / no grace.
        data[field] = _whole_or_text(raw) if raw else (0 if field == "tier_grace_days" else None)
    return data


# Whole numbers of months or days a marketer types in a box (services/programme.py).
PERIOD_FIELDS = ("expiry_months", "expiry_reminder_days", "tier_grace_days")


def _form(programme: Programme) -> dict[str, Any]:
    form: dict[str, Any] = {
        "enabled": programme.enabled,
        "points_per_unit": str(programme.points_per_unit),
        "daily_cap": "" if programme.daily_cap is None else programme.daily_cap,
        "value_per_point": f"{programme.value_per_point:.4f}",
    }
    for field in PERIOD_FIELDS:
        value = getattr(programme, field)
        form[field] = "" if value in (None, 0) else value
    return form


def _page(
    request: WorkspaceRequest, programme: Programme, errors: dict[str, list[str]], **extra: Any
) -> HttpResponse:
    return render(
        request,
        "loyalty/settings.html",
        {
            "programme": programme,
            "form": extra.pop("form", None) or _form(programme),
            "event_rows": extra.pop("event_rows", None) or _event_rows(programme),
            "rewards": selectors.rewards_for_workspace(workspace=request.workspace),
            "tiers": selectors.tiers_for_workspace(workspace=request.workspace),
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
        return _page(request, programme, {})
    data = _programme_data(request.POST)
    try:
        services.programme_update(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        rows = [{"name": n, "points": p} for n, p in data["event_points"].items()]
        return _page(
            request,
            programme,
            exc.fields or {"enabled": [exc.message]},
            form={
                "enabled": data["enabled"],
                **{
                    field: request.POST.get(field, "")
                    for field in ("points_per_unit", "daily_cap", "value_per_point", *PERIOD_FIELDS)
                },
            },
            event_rows=rows + [{"name": "", "points": ""}] * BLANK_EVENT_ROWS,
        )
    messages.success(request, "Loyalty programme saved.")
    return redirect("loyalty:settings", slug=request.workspace.slug)


@require_POST
@workspace_view()
def reward_new(request: WorkspaceRequest) -> HttpResponse:
    post = request.POST
    values = {
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "description": post.get("description", ""),
        "points_cost": post.get("points_cost", ""),
        "stock": post.get("stock", ""),
        "per_contact_limit": post.get("per_contact_limit", ""),
    }
    data: dict[str, Any] = {
        key: _whole_or_text(value)
        if key in ("points_cost", "stock", "per_contact_limit")
        else value
        for key, value in values.items()
    }
    for key in ("stock", "per_contact_limit"):
        if data[key] == "":
            data[key] = None
    try:
        reward = services.reward_create(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        programme = services.programme_get(workspace=request.workspace)
        return _page(
            request,
            programme,
            {},
            reward_values=values,
            reward_errors=exc.fields or {"name": [exc.message]},
        )
    messages.success(request, f"Reward “{reward.name}” added.")
    return redirect("loyalty:settings", slug=request.workspace.slug)


def _reward_or_404(request: WorkspaceRequest, reward_id: int) -> Any:
    reward = selectors.reward_get(workspace=request.workspace, reward_id=reward_id)
    if reward is None:
        raise Http404("No such reward.")
    return reward


@require_POST
@workspace_view()
def reward_codes(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    uploaded = [line.strip() for line in request.POST.get("codes", "").splitlines() if line.strip()]
    count = request.POST.get("generate", "").strip()
    data: dict[str, Any] = {"codes": uploaded} if uploaded else {"generate": _whole_or_text(count)}
    try:
        result = services.reward_codes_add(reward=reward, data=data, actor=request.actor)
    except DomainError as exc:
        reasons = [f"{field}: {' '.join(why)}" for field, why in exc.fields.items()]
        messages.error(request, f"“{reward.name}”: {'; '.join(reasons) or exc.message}")
    else:
        messages.success(
            request,
            f"“{reward.name}”: {result['added']} codes added"
            + (f", {result['duplicates']} already there" if result["duplicates"] else "")
            + ".",
        )
    return redirect("loyalty:settings", slug=request.workspace.slug)


@require_POST
@workspace_view()
def reward_switch(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    reward = services.reward_update(
        reward=reward, data={"active": not reward.active}, actor=request.actor
    )
    state = "on" if reward.active else "off"
    messages.success(request, f"Reward “{reward.name}” switched {state}.")
    return redirect("loyalty:settings", slug=request.workspace.slug)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def tier_new(request: WorkspaceRequest) -> HttpResponse:
    """A new tier: its name, the 12 months' points to reach it, its benefits as text
    and its earning multiplier."""
    post = request.POST
    values = {
        key: post.get(key, "").strip() for key in ("name", "threshold", "benefits", "multiplier")
    }
    data: dict[str, Any] = {
        "name": values["name"],
        "threshold": _whole_or_text(values["threshold"]),
        "benefits": values["benefits"],
        "multiplier": values["multiplier"] or "1",
    }
    try:
        tier = services.tier_create(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        programme = services.programme_get(workspace=request.workspace)
        return _page(
            request,
            programme,
            {},
            tier_values=values,
            tier_errors=exc.fields or {"name": [exc.message]},
        )
    messages.success(request, f"Tier “{tier.name}” added.")
    return redirect("loyalty:settings", slug=request.workspace.slug)
