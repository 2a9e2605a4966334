"""Admin: each workspace's analytics settings with its last drift check, and the drift
checks themselves (read-only: written by the check)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from analytics.models import AnalyticsSettings, DriftCheck
from workspaces.admin import WorkspaceScopedAdmin


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(WorkspaceScopedAdmin):
    list_display = [
        "workspace",
        "churned_stage_key",
        "at_risk_stage_key",
        "source_attribute",
        "rollups_rebuilt_at",
        "last_drift_check",
    ]
    readonly_fields = [
        "rollups_rebuilt_at",
        "clv_fitted_at",
        "drift_checked_at",
        "last_drift_check",
    ]

    @admin.display(description="last drift check")
    def last_drift_check(self, settings: AnalyticsSettings) -> str:
        check = (
            DriftCheck.objects.filter(workspace_id=settings.workspace_id)
            .order_by("-checked_at", "-pk")
            .first()
        )
        if check is None:
            return "never"
        return (
            f"{check.checked_at:%Y-%m-%d %H:%M} ({check.scope}): {check.rows_differing} of "
            f"{check.rows_checked} rows differed, {check.rows_repaired} repaired"
        )


@admin.register(DriftCheck)
class DriftCheckAdmin(WorkspaceScopedAdmin):
    list_display = [
        "workspace",
        "checked_at",
        "scope",
        "contacts_checked",
        "rows_checked",
        "rows_differing",
        "rows_repaired",
        "seconds",
    ]
    list_filter = ["scope"]
    ordering = ["-checked_at"]
    readonly_fields = [field.name for field in DriftCheck._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
