"""Admin for messaging, scoped to the staff user's workspaces. Outbox rows and what
providers reported are read-only here: they change only through the send path."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from campaigns.models import (
    Broadcast,
    BroadcastVariant,
    Journey,
    JourneyEnrolment,
    JourneyStep,
    Message,
    MessagingSettings,
    SandboxDelivery,
    SendingPolicy,
    Template,
    TrackingEvent,
    WebhookEvent,
)
from campaigns.services import template_errors
from campaigns.services.broadcasts import broadcast_cancel, broadcast_pause, broadcast_resume
from campaigns.services.journeys import journey_cancel, journey_pause, journey_resume
from config.errors import DomainError
from workspaces.admin import WorkspaceScopedAdmin
from workspaces.services import Actor


class TemplateAdminForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = [
            "workspace",
            "name",
            "channel",
            "subject",
            "preheader",
            "from_name",
            "from_email",
            "reply_to",
            "body",
            "text_body",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        draft = Template(**{k: v for k, v in cleaned.items() if k != "id"})
        for field, reasons in template_errors(draft).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, reasons)
        return cleaned


@admin.register(Template)
class TemplateAdmin(WorkspaceScopedAdmin):
    form = TemplateAdminForm
    list_display = ["name", "channel", "workspace", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["name"]


class ReadOnlyAdmin(WorkspaceScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "workspace", "channel", "to_address", "status", "due_at", "attempts"]
    list_filter = ["status", "channel"]
    search_fields = ["=id", "=to_address", "=provider_message_id", "=idempotency_key"]
    raw_id_fields = ["contact", "template"]


@admin.register(SandboxDelivery)
class SandboxDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "workspace", "channel", "to_address", "subject", "created_at"]
    search_fields = ["=to_address"]


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "workspace", "message_id", "kind", "is_bot", "created_at"]
    list_filter = ["kind", "is_bot"]
    raw_id_fields = ["message"]


@admin.register(MessagingSettings)
class MessagingSettingsAdmin(WorkspaceScopedAdmin):
    list_display = ["workspace", "from_email", "sms_from_number", "rate_limit_per_minute"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Provider events are not workspace-scoped until matched: superusers only."""

    list_display = ["id", "provider", "kind", "event_id", "workspace", "received_at"]
    list_filter = ["provider", "kind"]
    search_fields = ["=event_id"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BroadcastVariantInline(admin.TabularInline):
    model = BroadcastVariant
    extra = 0
    can_delete = False
    readonly_fields = ["label", "template", "weight", "is_default", "best_time"]

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


@admin.register(SendingPolicy)
class SendingPolicyAdmin(WorkspaceScopedAdmin):
    list_display = [
        "workspace",
        "channel",
        "cap_messages",
        "cap_period_hours",
        "cap_policy",
        "quiet_hours_enabled",
        "quiet_start",
        "quiet_end",
    ]
    list_filter = ["channel", "cap_policy"]
