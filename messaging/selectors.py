"""Reads of templates and messages shared by the dashboard and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.models import MediaFile, Message, SandboxDelivery, SendingDomain, Template
from workspaces.models import Workspace


def templates_for_workspace(*, workspace: Workspace) -> QuerySet[Template]:
    return Template.objects.filter(workspace=workspace).order_by("name")


def template_get(*, workspace: Workspace, template_id: object) -> Template | None:
    try:
        pk = int(str(template_id))
    except ValueError:
        return None
    return Template.objects.filter(workspace=workspace, pk=pk).first()


def messages_for_workspace(
    *,
    workspace: Workspace,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
) -> QuerySet[Message]:
    queryset = Message.objects.filter(workspace=workspace).select_related("contact", "template")
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    if contact_id is not None:
        queryset = queryset.filter(contact_id=contact_id)
    return queryset


def message_get(*, workspace: Workspace, message_id: object) -> Message | None:
    try:
        pk = int(str(message_id))
    except ValueError:
        return None
    return (
        Message.objects.filter(workspace=workspace, pk=pk)
        .select_related("contact", "template")
        .first()
    )


def sandbox_deliveries(*, workspace: Workspace) -> QuerySet[SandboxDelivery]:
    return SandboxDelivery.objects.filter(workspace=workspace).order_by("-id")


def sending_domains_for_workspace(*, workspace: Workspace) -> QuerySet[SendingDomain]:
    return SendingDomain.objects.filter(workspace=workspace).order_by("domain")


def sending_domain_get(*, workspace: Workspace, domain_id: object) -> SendingDomain | None:
    try:
        pk = int(str(domain_id))
    except ValueError:
        return None
    return SendingDomain.objects.filter(workspace=workspace, pk=pk).first()


def media_files_for_workspace(*, workspace: Workspace) -> QuerySet[MediaFile]:
    return MediaFile.objects.filter(workspace=workspace)


def media_file_get(*, workspace: Workspace, media_id: object) -> MediaFile | None:
    if not isinstance(media_id, int):
        return None
    return media_files_for_workspace(workspace=workspace).filter(pk=media_id).first()
