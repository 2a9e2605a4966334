"""Dashboard settings page: quiet hours and frequency caps per channel."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from config.errors import DomainError
from messaging.models import CapPolicy
from messaging.services.policies import policy_rows, sending_policy_set
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


def _posted(request: WorkspaceRequest, channel: str) -> dict[str, Any]:
    post = request.POST
    return {
        "channel": channel,
        "cap_messages": post.get("cap_messages", "").strip() if post.get("capped") else None,
        "cap_period_hours": post.get("cap_period_hours", "").strip(),
        "cap_policy": post.get("cap_policy", CapPolicy.DEFER),
        "quiet_hours_enabled": bool(post.get("quiet_hours_enabled")),
        "quiet_start": post.get("quiet_start", ""),
        "quiet_end": post.get("quiet_end", ""),
    }


@workspace_view(write_methods_role=Role.ADMIN)
def settings_policies(request: WorkspaceRequest) -> HttpResponse:
    rows = policy_rows(workspace=request.workspace)
    errors: dict[str, dict[str, list[str]]] = {}
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        values = _posted(request, channel)
        try:
            sending_policy_set(workspace=request.workspace, actor=request.actor, **values)
        except DomainError as exc:
            errors[channel] = exc.fields or {"form": [exc.message]}
            rows = [
                {**row, **values, "cap_messages": values["cap_messages"] or ""}
                if row["channel"] == channel
                else row
                for row in rows
            ]
        else:
            messages.success(request, "Sending rules saved.")
            return redirect("messaging:policies", slug=request.workspace.slug)
    for row in rows:
        row["errors"] = errors.get(row["channel"], {})
    return render(
        request,
        "messaging/settings_policies.html",
        {"rows": rows, "cap_policies": CapPolicy.choices},
    )
