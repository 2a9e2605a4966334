"""Admin for messaging, scoped to the staff user's workspaces. Outbox rows and what
providers reported are read-only here: they change only through the send path."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from messaging.models import (
    TEMPLATE_FIELDS,
    Message,
    MessagingSettings,
    SandboxDelivery,
    SendingDomain,
    SendingPolicy,
    Template,
    TrackingEvent,
    WebhookEvent,
)
from messaging.services import template_errors
from workspaces.admin import ReadOnlyAdmin, WorkspaceScopedAdmin


class TemplateAdminForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["workspace", *TEMPLATE_FIELDS]

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


@admin.register(SendingDomain)
class SendingDomainAdmin(ReadOnlyAdmin):
    """Added, checked and removed from the workspace's settings page; the private key
    is not shown here either."""

    list_display = ["domain", "workspace", "status", "last_checked_at"]
    list_filter = ["status"]
    search_fields = ["domain"]
    exclude = ["private_key_pem"]


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
