"""Dashboard settings page: what the figures mean (churned and at-risk stages, the
acquisition source attribute)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from analytics.services.reporting_settings import (
    reporting_settings_get,
    reporting_settings_update,
)
from config.errors import DomainError
from lifecycle.selectors import stages_for_workspace
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


@workspace_view(write_methods_role=Role.ADMIN)
def reporting_settings(request: WorkspaceRequest) -> HttpResponse:
    current = reporting_settings_get(workspace=request.workspace)
    values = {
        "churned_stage_key": current.churned_stage_key,
        "at_risk_stage_key": current.at_risk_stage_key,
        "source_attribute": current.source_attribute,
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        before = values
        values = {key: request.POST.get(key, "").strip() for key in values}
        try:
            reporting_settings_update(workspace=request.workspace, actor=request.actor, **values)
        except DomainError as exc:
            errors = exc.fields or {"form": [exc.message]}
        else:
            saved = "Reporting settings saved."
            if values != before:
                saved += " The figures are being rebuilt with them (progress on the overview)."
            messages.success(request, saved)
            return redirect("analytics:reporting-settings", slug=request.workspace.slug)
    return render(
        request,
        "analytics/settings_reporting.html",
        {
            "values": values,
            "errors": errors,
            "stages": stages_for_workspace(workspace=request.workspace),
        },
    )
