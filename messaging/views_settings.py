"""Dashboard pages of a workspace's sending set-up: the sender identity and SMS
number, and the sending domains with their DNS records. Everyone in the workspace
may look; owners and admins may change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from messaging import selectors
from messaging.domain_models import DomainStatus, SendingDomain
from messaging.services import domains
from messaging.services.sender import (
    SENDER_FIELDS,
    messaging_settings_get,
    messaging_settings_update,
)
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


@workspace_view(write_methods_role=Role.ADMIN)
def sending_settings(request: WorkspaceRequest) -> HttpResponse:
    current = messaging_settings_get(workspace=request.workspace)
    values = {key: getattr(current, key) for key in SENDER_FIELDS}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in SENDER_FIELDS}
        try:
            messaging_settings_update(workspace=request.workspace, data=values, actor=request.actor)
            messages.success(request, "Sending settings saved.")
            return redirect("messaging:sending-settings", slug=request.workspace.slug)
        except DomainError as exc:
            errors = exc.fields or {"from_email": [exc.message]}
    return render(
        request,
        "messaging/sending_settings.html",
        {"values": values, "errors": errors, "can_edit": request.membership.can_admin},
    )


def _signing_note(workspace_domains: list[SendingDomain]) -> str:
    verified = [d.domain for d in workspace_domains if d.status == DomainStatus.VERIFIED]
    default = settings.DKIM_DOMAIN
    if verified:
        rest = (
            f"; mail from other domains with the installation's default ({default})"
            if default
            else "; mail from other domains goes unsigned"
        )
        names = ", ".join(verified)
        return f"Email from {names} (and its subdomains) is signed with its own key{rest}."
    if default:
        return (
            f"Your email is signed with the installation's default domain ({default}) "
            "until a domain is verified."
        )
    return "Your email is sent without a DKIM signature until a domain is verified."


@workspace_view(write_methods_role=Role.ADMIN)
def domain_list(request: WorkspaceRequest) -> HttpResponse:
    value, errors = "", {}
    if request.method == "POST":
        value = request.POST.get("domain", "")
        try:
            record = domains.sending_domain_create(
                workspace=request.workspace, domain=value, actor=request.actor
            )
            messages.success(request, f"{record.domain} added: publish its DNS records below.")
            return redirect(
                "messaging:domain-detail", slug=request.workspace.slug, domain_id=record.pk
            )
        except DomainError as exc:
            errors = exc.fields or {"domain": [exc.message]}
    found = list(selectors.sending_domains_for_workspace(workspace=request.workspace))
    return render(
        request,
        "messaging/domains.html",
        {
            "domains": found,
            "value": value,
            "errors": errors,
            "can_edit": request.membership.can_admin,
            "signing_note": _signing_note(found),
        },
    )


def _domain_or_404(request: WorkspaceRequest, domain_id: int) -> SendingDomain:
    record = selectors.sending_domain_get(workspace=request.workspace, domain_id=domain_id)
    if record is None:
        raise Http404("No such domain.")
    return record


def _records(record: SendingDomain) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = domains.dns_records(record)
    for row in records:
        row["status_label"] = DomainStatus(row["status"]).label
    records[1]["hint"] = (
        "If the domain already has an SPF record, add "
        f"include:{settings.SPF_INCLUDE} to it instead: a domain has only one SPF record."
    )
    return records


def _detail_context(request: WorkspaceRequest, record: SendingDomain) -> dict[str, Any]:
    return {
        "domain": record,
        "records": _records(record),
        "can_edit": request.membership.can_admin,
        "signing_note": _signing_note(
            list(selectors.sending_domains_for_workspace(workspace=request.workspace))
        ),
    }


@workspace_view()
def domain_detail(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    record = _domain_or_404(request, domain_id)
    return render(request, "messaging/domain_detail.html", _detail_context(request, record))


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def domain_check(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    """ "Check now": the lookups run here, bounded by their timeout, so the answer is
    on the page at once (the beat task re-checks unverified domains meanwhile)."""
    record = _domain_or_404(request, domain_id)
    record = domains.sending_domain_verify(domain_id=record.pk, actor=request.actor) or record
    context = _detail_context(request, record)
    if request.headers.get("HX-Request"):
        return render(request, "messaging/_domain_status.html", context)
    return redirect("messaging:domain-detail", slug=request.workspace.slug, domain_id=record.pk)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def domain_delete(request: WorkspaceRequest, domain_id: int) -> HttpResponse:
    record = _domain_or_404(request, domain_id)
    domains.sending_domain_delete(record=record, actor=request.actor)
    messages.success(request, f"{record.domain} removed.")
    return redirect("messaging:domains", slug=request.workspace.slug)
