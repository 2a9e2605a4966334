"""Admin for contacts and their data, scoped to the staff user's workspaces. Searches
use exact or prefix matches on indexed columns so they stay fast at 1M contacts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from contacts import services
from contacts.models import (
    ConsentChange,
    Contact,
    ContactMark,
    Event,
    EventSummary,
    ImportJob,
    ImportRowError,
    Segment,
    Suppression,
)
from contacts.rules import validate_rule
from workspaces.admin import WorkspaceScopedAdmin
from workspaces.services import Actor


@admin.register(Contact)
class ContactAdmin(WorkspaceScopedAdmin):
    list_display = [
        "id",
        "email",
        "phone",
        "external_id",
        "first_name",
        "last_name",
        "email_status",
        "sms_status",
        "workspace",
        "created_at",
    ]
    list_filter = ["email_status", "sms_status"]
    # "=" is an exact match: an index lookup instead of a scan of 1M rows.
    search_fields = ["=email", "=external_id", "=phone", "=id"]
    list_select_related = ["workspace"]
    readonly_fields = ["created_at", "updated_at", "email_status_at", "sms_status_at"]
    ordering = ["-id"]
    actions = ["erase"]

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        services.contact_erase(contact=obj, actor=Actor(user=request.user))  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for contact in queryset:
            self.delete_model(request, contact)

    @admin.action(description="Erase selected contacts (GDPR)")
    def erase(self, request: HttpRequest, queryset: Any) -> None:
        self.delete_queryset(request, queryset)


@admin.register(Event)
class EventAdmin(WorkspaceScopedAdmin):
    list_display = ["id", "name", "contact", "revenue", "currency", "occurred_at", "workspace"]
    search_fields = ["=contact__id", "=contact__email", "=idempotency_key"]
    raw_id_fields = ["contact"]
    list_select_related = ["contact", "workspace"]
    ordering = ["-id"]


@admin.register(ConsentChange)
class ConsentChangeAdmin(WorkspaceScopedAdmin):
    list_display = ["created_at", "contact", "channel", "status", "source"]
    list_filter = ["channel", "status"]
    search_fields = ["=contact__id", "=contact__email"]
    raw_id_fields = ["contact"]
    list_select_related = ["contact"]


@admin.register(Suppression)
class SuppressionAdmin(WorkspaceScopedAdmin):
    list_display = ["channel", "value_hash", "reason", "workspace", "created_at"]
    list_filter = ["channel", "reason"]
    search_fields = ["=value_hash"]


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    max_num = 0
    fields = ["row_number", "reason"]
    readonly_fields = ["row_number", "reason"]
    show_change_link = False


@admin.register(ImportJob)
class ImportJobAdmin(WorkspaceScopedAdmin):
    list_display = [
        "id",
        "filename",
        "kind",
        "workspace",
        "status",
        "total_rows",
        "processed_rows",
        "created_count",
        "updated_count",
        "rejected_count",
        "created_at",
    ]
    list_filter = ["status"]
    readonly_fields = [
        "headers",
        *ImportJob.COUNTERS,
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]
    list_select_related = ["workspace"]
    inlines = [ImportRowErrorInline]


@admin.register(Segment)
class SegmentAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "updated_at"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        validate_rule(obj.rule, workspace=obj.workspace, segment_id=obj.pk)
        super().save_model(request, obj, form, change)


@admin.register(EventSummary)
class EventSummaryAdmin(WorkspaceScopedAdmin):
    list_display = ["contact_id", "name", "count", "first_at", "last_at", "revenue"]
    search_fields = ["=contact__id", "=name"]
    raw_id_fields = ["contact"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # derived from events


@admin.register(ContactMark)
class ContactMarkAdmin(WorkspaceScopedAdmin):
    list_display = ["contact_id", "workspace", "marked_at"]
    raw_id_fields = ["contact"]
