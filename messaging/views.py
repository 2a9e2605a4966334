"""Dashboard pages for messaging: templates with a live preview, and the outbox."""

from __future__ import annotations

import html
import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.pagination import keyset_page
from contacts import selectors as contact_selectors
from contacts.models import Channel, Contact
from messaging import selectors, services, tokens
from messaging.blocks import PERSONALISATION_FIELDS, SOCIAL_NETWORKS
from messaging.blocks.kinds import editor_kinds
from messaging.models import TEMPLATE_FIELDS, Editor, Message, MessageStatus, Template
from messaging.rendering import sms_segments
from messaging.services.media import media_file_create, media_url
from messaging.services.previews import message_send_test, template_preview
from workspaces.dashboard import WorkspaceRequest, workspace_view

FIELDS = TEMPLATE_FIELDS


def _posted(post: QueryDict, fields: tuple[str, ...] = FIELDS) -> dict[str, Any]:
    """The editor form's values. A blocks template posts its document as JSON that the
    editor island (static/js/email-blocks.js) writes into a hidden field; its HTML
    and text parts are rendered from it, never posted."""
    values: dict[str, Any] = {f: post.get(f, "") for f in fields if f != "document"}
    values["editor"] = values.get("editor") or Editor.HTML
    if values["editor"] == Editor.BLOCKS:
        values.pop("body", None)
        values.pop("text_body", None)
        try:
            values["document"] = json.loads(post.get("document") or "{}")
        except ValueError:
            values["document"] = None  # reported as "document: must be an object"
    return values


def _template_or_404(request: WorkspaceRequest, template_id: int) -> Template:
    template = selectors.template_get(workspace=request.workspace, template_id=template_id)
    if template is None:
        raise Http404("No such template.")
    return template


@workspace_view()
def template_list(request: WorkspaceRequest) -> HttpResponse:
    templates = selectors.templates_for_workspace(workspace=request.workspace)
    return render(request, "messaging/template_list.html", {"templates": templates})


@workspace_view()
def template_edit(request: WorkspaceRequest, template_id: int | None = None) -> HttpResponse:
    template = _template_or_404(request, template_id) if template_id is not None else None
    values = {f: getattr(template, f) if template else "" for f in FIELDS}
    if not template:
        values["channel"] = request.GET.get("channel", Channel.EMAIL)
        # New email templates start in blocks; existing ones keep the mode they have.
        values["editor"] = Editor.BLOCKS if values["channel"] == Channel.EMAIL else Editor.HTML
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = _posted(request.POST)
        if template is not None:
            values["channel"] = template.channel
        try:
            if template is None:
                template = services.template_create(
                    workspace=request.workspace, data=values, actor=request.actor
                )
            else:
                template = services.template_update(
                    template=template, data=values, actor=request.actor
                )
            messages.success(request, f"Template “{template.name}” saved.")
            return redirect(
                "messaging:template-edit", slug=request.workspace.slug, template_id=template.pk
            )
        except DomainError as exc:
            errors = exc.fields or {"body": [exc.message]}
    return render(
        request,
        "messaging/template_edit.html",
        {
            "template": template,
            "values": values,
            "errors": errors,
            "channels": Channel.choices,
            "document": values.get("document") or {},
            "blocks_options": {
                "fields": PERSONALISATION_FIELDS,
                "networks": list(SOCIAL_NETWORKS),
                "extra": editor_kinds(request.workspace),
            },
        },
    )


def _contact_found(request: WorkspaceRequest, text: str) -> Contact | None:
    """The contact a marketer typed by email or name: the exact email first, else the
    first name/email prefix match (the suggestions list shows which)."""
    text = text.strip()[:200]
    if not text:
        return None
    found = contact_selectors.contacts_search(workspace=request.workspace, email=text).first()
    if found is None and "@" not in text:
        found = (
            contact_selectors.contacts_search(workspace=request.workspace, q=text)
            .order_by("id")
            .first()
        )
    return found


@workspace_view()
def template_contact_suggestions(request: WorkspaceRequest) -> HttpResponse:
    """Options for the "preview as" box's datalist: contacts by email or name."""
    text = request.GET.get("contact", "").strip()[:200]
    contacts = (
        contact_selectors.contacts_search(workspace=request.workspace, q=text).order_by("id")[:8]
        if len(text) >= 2
        else []
    )
    return render(request, "messaging/_contact_options.html", {"contacts": contacts})


@workspace_view(write_methods_role="viewer")
def template_preview_panel(request: WorkspaceRequest) -> HttpResponse:
    """The live preview under the editor (htmx, on every change): nothing is saved."""
    data = _posted(request.POST, tuple(f for f in FIELDS if f != "name"))
    if data.get("channel") not in Channel.values:
        data["channel"] = Channel.EMAIL
    draft = Template(workspace=request.workspace, name="preview", **data)
    errors = services.template_errors(draft)
    errors.pop("name", None)
    contact = _contact_found(request, request.POST.get("contact", ""))
    context: dict[str, Any] = {"errors": errors, "channel": draft.channel, "contact": contact}
    if draft.channel == Channel.SMS:
        context["segments"] = sms_segments(draft.body)
    if not errors:
        try:
            context["rendered"] = template_preview(template=draft, contact=contact)
        except DomainError as exc:  # this contact's data takes the render over a bound
            context["errors"] = exc.fields or {"body": [exc.message]}
    return render(request, "messaging/_template_preview.html", context)


@require_POST
@workspace_view()
def template_send_test(request: WorkspaceRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(request, template_id)
    try:
        message_send_test(
            template=template,
            to=request.POST.get("to", ""),
            contact=_contact_found(request, request.POST.get("contact", "")),
            actor=request.actor,
        )
        messages.success(request, "Test queued; it shows in the outbox.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("messaging:template-edit", slug=request.workspace.slug, template_id=template.pk)


@require_POST
@workspace_view()
def media_upload(request: WorkspaceRequest) -> JsonResponse:
    """The block editor's image upload: the file's public URL, or the API's error shape."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InvalidInput("file: choose an image", fields={"file": ["choose an image"]})
        media = media_file_create(workspace=request.workspace, upload=upload, actor=request.actor)
    except DomainError as exc:
        error = {"code": exc.code, "message": exc.message, "fields": exc.fields}
        return JsonResponse({"error": error}, status=exc.status)
    return JsonResponse({"id": media.pk, "url": media_url(media)}, status=201)


@require_POST
@workspace_view()
def template_delete(request: WorkspaceRequest, template_id: int) -> HttpResponse:
    services.template_delete(template=_template_or_404(request, template_id), actor=request.actor)
    messages.success(request, "Template deleted.")
    return redirect("messaging:templates", slug=request.workspace.slug)


@workspace_view()
def outbox(request: WorkspaceRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    contact = request.GET.get("contact", "")
    queryset = selectors.messages_for_workspace(
        workspace=request.workspace,
        status=status if status in MessageStatus.values else None,
        contact_id=int(contact) if contact.isdigit() and len(contact) < 19 else None,
    )
    try:
        rows, next_cursor = keyset_page(
            queryset, keys=["-id"], cursor=request.GET.get("cursor"), limit=50
        )
    except DomainError:
        rows, next_cursor = keyset_page(queryset, keys=["-id"], cursor=None, limit=50)
    return render(
        request,
        "messaging/outbox.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "status": status,
            "statuses": MessageStatus.choices,
        },
    )


def _as_displayed(message: Message) -> str:
    """The email as sent, minus its tracking: looking at it in the outbox must not
    count as an open, and a click in it must not count as a click."""
    ws = message.workspace_id
    body = message.body_html.replace(
        html.escape(tokens.open_url(message.pk, workspace_id=ws), quote=True), ""
    )
    for index, url in enumerate(message.links or []):
        body = body.replace(
            html.escape(tokens.click_url(message.pk, index, workspace_id=ws), quote=True),
            html.escape(str(url), quote=True),
        )
    return tokens.untracked_legacy(body, message.pk, list(message.links or []))


@workspace_view()
def outbox_message(request: WorkspaceRequest, message_id: int) -> HttpResponse:
    message = selectors.message_get(workspace=request.workspace, message_id=message_id)
    if message is None:
        raise Http404("No such message.")
    return render(
        request,
        "messaging/outbox_message.html",
        {"message": message, "body_html": _as_displayed(message)},
    )
