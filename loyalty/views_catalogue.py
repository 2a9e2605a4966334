"""Settings → Loyalty's tiers and rewards: add, edit, delete; a reward's codes and its
switch. Each form posts here and goes back to the settings page; a refused form is
shown again there with its values and the reasons by their fields."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from config.errors import DomainError
from loyalty import selectors, services
from loyalty.models import Reward, Tier
from loyalty.views import settings_page, whole_or_text
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role

TIER_FIELDS = ("name", "threshold", "benefits", "multiplier")
REWARD_FIELDS = ("name", "kind", "description", "points_cost", "stock", "per_contact_limit")


def _back(request: WorkspaceRequest) -> HttpResponse:
    return redirect("loyalty:settings", slug=request.workspace.slug)


def _refused(request: WorkspaceRequest, **extra: Any) -> HttpResponse:
    programme = services.programme_get(workspace=request.workspace)
    return settings_page(request, programme, {}, **extra)


def _tier_values(post: Any) -> tuple[dict[str, str], dict[str, Any]]:
    values = {key: post.get(key, "").strip() for key in TIER_FIELDS}
    data: dict[str, Any] = {
        "name": values["name"],
        "threshold": whole_or_text(values["threshold"]),
        "benefits": values["benefits"],
        "multiplier": values["multiplier"] or "1",
    }
    return values, data


def _reward_values(post: Any) -> tuple[dict[str, str], dict[str, Any]]:
    values = {key: post.get(key, "") for key in REWARD_FIELDS}
    data: dict[str, Any] = {
        key: whole_or_text(value) if key in ("points_cost", "stock", "per_contact_limit") else value
        for key, value in values.items()
    }
    for key in ("stock", "per_contact_limit"):
        if data[key] == "":
            data[key] = None
    return values, data


def _tier_or_404(request: WorkspaceRequest, tier_id: int) -> Tier:
    tier = selectors.tier_get(workspace=request.workspace, tier_id=tier_id)
    if tier is None:
        raise Http404("No such tier.")
    return tier


def _reward_or_404(request: WorkspaceRequest, reward_id: int) -> Reward:
    reward = selectors.reward_get(workspace=request.workspace, reward_id=reward_id)
    if reward is None:
        raise Http404("No such reward.")
    return reward


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def tier_new(request: WorkspaceRequest) -> HttpResponse:
    """A new tier: its name, what reaches it, its benefits as text and its earning
    multiplier."""
    values, data = _tier_values(request.POST)
    try:
        tier = services.tier_create(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        errors = exc.fields or {"name": [exc.message]}
        return _refused(request, tier_values=values, tier_errors=errors)
    messages.success(request, f"Tier “{tier.name}” added.")
    return _back(request)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def tier_edit(request: WorkspaceRequest, tier_id: int) -> HttpResponse:
    """Change a tier; members move at the next review (or up as they earn)."""
    tier = _tier_or_404(request, tier_id)
    values, data = _tier_values(request.POST)
    try:
        services.tier_update(tier=tier, data=data, actor=request.actor)
    except DomainError as exc:
        errors = exc.fields or {"name": [exc.message]}
        return _refused(request, tier_edit={"id": tier.pk, "values": values, "errors": errors})
    messages.success(request, f"Tier “{tier.name}” saved; members move at the next review.")
    return _back(request)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def tier_delete(request: WorkspaceRequest, tier_id: int) -> HttpResponse:
    """Delete a tier; its members move to the tier below it (services.tier_delete)."""
    tier = _tier_or_404(request, tier_id)
    name = tier.name
    moved = services.tier_delete(tier=tier, actor=request.actor)
    note = f" {moved} member{'s' if moved != 1 else ''} moved to the tier below." if moved else ""
    messages.success(request, f"Tier “{name}” deleted.{note}")
    return _back(request)


@require_POST
@workspace_view()
def reward_new(request: WorkspaceRequest) -> HttpResponse:
    values, data = _reward_values(request.POST)
    try:
        reward = services.reward_create(workspace=request.workspace, data=data, actor=request.actor)
    except DomainError as exc:
        errors = exc.fields or {"name": [exc.message]}
        return _refused(request, reward_values=values, reward_errors=errors)
    messages.success(request, f"Reward “{reward.name}” added.")
    return _back(request)


@require_POST
@workspace_view()
def reward_edit(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    """Change a reward's name, description, cost, stock, limit or kind (a kind cannot
    change once the reward has codes or redemptions: the service refuses it)."""
    reward = _reward_or_404(request, reward_id)
    values, data = _reward_values(request.POST)
    try:
        services.reward_update(reward=reward, data=data, actor=request.actor)
    except DomainError as exc:
        errors = exc.fields or {"name": [exc.message]}
        return _refused(request, reward_edit={"id": reward.pk, "values": values, "errors": errors})
    messages.success(request, f"Reward “{reward.name}” saved.")
    return _back(request)


@require_POST
@workspace_view()
def reward_delete(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    """Delete a reward nobody redeemed; one that was redeemed stays (switch it off)."""
    reward = _reward_or_404(request, reward_id)
    name = reward.name
    try:
        services.reward_delete(reward=reward, actor=request.actor)
    except DomainError:
        messages.error(
            request, f"“{name}” was redeemed, so it stays in the history: switch it off instead."
        )
    else:
        messages.success(request, f"Reward “{name}” deleted.")
    return _back(request)


@require_POST
@workspace_view()
def reward_codes(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    uploaded = [line.strip() for line in request.POST.get("codes", "").splitlines() if line.strip()]
    count = request.POST.get("generate", "").strip()
    data: dict[str, Any] = {"codes": uploaded} if uploaded else {"generate": whole_or_text(count)}
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
    return _back(request)


@require_POST
@workspace_view()
def reward_switch(request: WorkspaceRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    reward = services.reward_update(
        reward=reward, data={"active": not reward.active}, actor=request.actor
    )
    state = "on" if reward.active else "off"
    messages.success(request, f"Reward “{reward.name}” switched {state}.")
    return _back(request)
