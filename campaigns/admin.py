"""Admin for broadcasts and journeys, scoped to the staff user's workspaces: read-only,
with the pause/resume/cancel services as actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from campaigns.broadcasts.services import broadcast_cancel, broadcast_pause, broadcast_resume
from campaigns.journeys.services import journey_cancel, journey_pause, journey_resume
from campaigns.models import Broadcast, BroadcastVariant, Journey, JourneyEnrolment, JourneyStep
from config.errors import DomainError
from workspaces.admin import ReadOnlyAdmin
from workspaces.services import Actor


class BroadcastVariantInline(admin.TabularInline):
    model = BroadcastVariant
    extra = 0
    can_delete = False
    readonly_fields = ["label", "template", "weight", "is_default", "best_time"]
    exclude = ["workspace"]  # the broadcast's, set by the service

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _service_action(name: str, service: Any, noun: str = "broadcast") -> Any:
    def action(modeladmin: Any, request: HttpRequest, queryset: Any) -> None:
        actor = Actor(user=request.user)  # type: ignore[arg-type]
        done = 0
        for obj in queryset:
            try:
                service(**{noun: obj, "actor": actor})
                done += 1
            except DomainError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", level="warning")
        modeladmin.message_user(request, f"{name.title()}: {done} {noun}(s).")

    action.__name__ = f"{noun}_{name}"
    action.short_description = f"{name.title()} selected {noun}s"  # type: ignore[attr-defined]
    return action


@admin.register(Broadcast)
class BroadcastAdmin(ReadOnlyAdmin):
    """Read-only: broadcasts are created and edited in the dashboard or the API, whose
    services validate them; state changes go through the same services (actions)."""

    list_display = ["id", "workspace", "name", "channel", "status", "recipient_count", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["name"]
    inlines = [BroadcastVariantInline]
    actions = [
        _service_action("pause", broadcast_pause),
        _service_action("resume", broadcast_resume),
        _service_action("cancel", broadcast_cancel),
    ]


class JourneyStepInline(admin.TabularInline):
    model = JourneyStep
    extra = 0
    can_delete = False
    fields = ["key", "kind", "config", "removed_at", "entered", "exited", "converted"]
    readonly_fields = ["key", "kind", "config", "removed_at", "entered", "exited", "converted"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Journey)
class JourneyAdmin(ReadOnlyAdmin):
    """Read-only like broadcasts: journeys are edited in the dashboard or the API, whose
    services check the definition and say what a live edit does to contacts inside."""

    list_display = ["id", "workspace", "name", "status", "reentry", "live_since", "version"]
    list_filter = ["status", "reentry"]
    search_fields = ["name"]
    inlines = [JourneyStepInline]
    actions = [
        _service_action("pause", journey_pause, "journey"),
        _service_action("resume", journey_resume, "journey"),
        _service_action("cancel", journey_cancel, "journey"),
    ]


@admin.register(JourneyEnrolment)
class JourneyEnrolmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "workspace", "journey", "contact", "status", "step", "due_at"]
    list_filter = ["status"]
    search_fields = ["=contact__email", "=trigger_key"]
    raw_id_fields = ["contact", "journey", "step"]
