"""Admin for stages, contacts' stages, transitions and sweeps (scoped to the staff
user's workspaces). Stage edits go through the services so rules are validated,
versions bumped and contacts evaluated again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from config.errors import DomainError
from lifecycle import services
from lifecycle.models import ContactStage, Stage, StageTransition, SweepRun
from workspaces.admin import WorkspaceScopedAdmin
from workspaces.services import Actor


@admin.register(Stage)
class StageAdmin(WorkspaceScopedAdmin):
    list_display = [
        "name",
        "key",
        "workspace",
        "position",
        "is_default",
        "rule_version",
        "archived_at",
    ]
    list_filter = ["is_default", "archived_at"]
    ordering = ["workspace", "is_default", "position"]
    readonly_fields = ["rule_version", "archived_at", "created_at", "updated_at"]
    actions = ["archive"]

    def save_model(self, request: HttpRequest, obj: Stage, form: Any, change: bool) -> None:
        actor = Actor(user=request.user)  # type: ignore[arg-type]
        data = {
            k: form.cleaned_data[k]
            for k in ("name", "colour", "description", "rule")
            if k in form.cleaned_data
        }
        try:
            if change:
                services.stage_update(stage=Stage.objects.get(pk=obj.pk), data=data, actor=actor)
            else:
                created = services.stage_create(
                    workspace=obj.workspace, data={**data, "key": obj.key}, actor=actor
                )
                obj.pk = created.pk
        except DomainError as exc:
            messages.error(request, f"{exc.message} {exc.fields}")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # stages are archived (the history keeps them), see the action

    @admin.action(description="Remove (archive) selected stages")
    def archive(self, request: HttpRequest, queryset: Any) -> None:
        for stage in queryset:
            try:
                services.stage_archive(stage=stage, actor=Actor(user=request.user))  # type: ignore[arg-type]
            except DomainError as exc:
                messages.error(request, exc.message)


@admin.register(ContactStage)
class ContactStageAdmin(WorkspaceScopedAdmin):
    list_display = ["contact_id", "stage", "entered_at", "pinned", "pinned_until", "workspace"]
    list_filter = ["pinned"]
    search_fields = ["=contact__id", "=contact__email"]
    raw_id_fields = ["contact"]
    list_select_related = ["stage", "workspace"]
    readonly_fields = ["contact", "stage", "entered_at"]


@admin.register(StageTransition)
class StageTransitionAdmin(WorkspaceScopedAdmin):
    list_display = ["at", "contact_id", "from_stage", "to_stage", "cause", "rule_version"]
    list_filter = ["cause"]
    search_fields = ["=contact__id", "=contact__email"]
    list_select_related = ["from_stage", "to_stage"]
    ordering = ["-id"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # history is never rewritten

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SweepRun)
class SweepRunAdmin(WorkspaceScopedAdmin):
    list_display = [
        "started_at",
        "workspace",
        "reason",
        "chunks_done",
        "chunks_total",
        "contacts_changed",
        "finished_at",
    ]
    ordering = ["-started_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
