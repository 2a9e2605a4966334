"""Reads of stages, contacts' current stages and their history."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Count, QuerySet

from lifecycle.models import ContactStage, Stage, StageTransition
from workspaces.models import Workspace


def stages_for_workspace(
    *, workspace: Workspace, include_archived: bool = False
) -> QuerySet[Stage]:
    """The workspace's stages in evaluation order, the default stage last."""
    queryset = Stage.objects.filter(workspace=workspace)
    if not include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    return queryset.order_by("is_default", "position", "pk")


def stage_get(*, workspace: Workspace, key_or_id: str | int) -> Stage | None:
    queryset = stages_for_workspace(workspace=workspace)
    if isinstance(key_or_id, int) or str(key_or_id).isdigit():
        return queryset.filter(pk=int(key_or_id)).first()
    return queryset.filter(key=key_or_id).first()


def current_stages(*, contact_ids: Collection[int]) -> dict[int, ContactStage]:
    """Each contact's current stage (with the Stage loaded), by contact id."""
    rows = ContactStage.objects.filter(contact_id__in=list(contact_ids)).select_related("stage")
    return {row.contact_id: row for row in rows}


def contact_stage(*, contact_id: int) -> ContactStage | None:
    return ContactStage.objects.filter(contact_id=contact_id).select_related("stage").first()


def transitions_for_contact(*, contact_id: int) -> QuerySet[StageTransition]:
    return (
        StageTransition.objects.filter(contact_id=contact_id)
        .select_related("from_stage", "to_stage", "actor_user")
        .order_by("-at", "-id")
    )


def stage_counts(*, workspace: Workspace) -> dict[int, int]:
    """Contacts in each stage now, by stage id."""
    rows = (
        ContactStage.objects.filter(workspace=workspace)
        .values("stage_id")
        .annotate(n=Count("contact_id"))
    )
    return {row["stage_id"]: row["n"] for row in rows}
