"""Dashboard settings a workspace owner controls: general settings and members
(invitations by email, roles, removal), and the public page an invitation links to."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.errors import DomainError
from workspaces import members, services, tasks
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.dates import DateLocale
from workspaces.models import Invitation, Membership, Role, User, available_time_zones

COMMON_CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN"]


@workspace_view(write_methods_role=Role.ADMIN)
def settings_general(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    values: dict[str, Any] = {
        "name": workspace.name,
        "time_zone": workspace.time_zone,
        "currency": workspace.currency,
        "date_locale": workspace.date_locale,
        "purchase_event_names": ", ".join(workspace.purchase_event_names),
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in values}
        try:
            services.workspace_settings_update(
                workspace=workspace,
                actor=request.actor,
                name=values["name"],
                time_zone=values["time_zone"],
                currency=values["currency"].strip(),
                date_locale=values["date_locale"] or None,  # left out: unchanged
                purchase_event_names=[
                    n.strip() for n in values["purchase_event_names"].split(",") if n.strip()
                ],
            )
        except DomainError as exc:
            errors = exc.fields or {"form": [exc.message]}
            workspace.refresh_from_db()
        else:
            messages.success(request, "Settings saved.")
            return redirect("workspaces:settings", slug=workspace.slug)
    return render(
        request,
        "workspaces/settings_general.html",
        {
            "values": values,
            "errors": errors,
            "time_zones": sorted(available_time_zones()),
            "currencies": COMMON_CURRENCIES,
            "date_locales": DateLocale.choices,
        },
    )


@require_POST
@workspace_view(write_methods_role=Role.VIEWER)
def settings_my_date_format(request: WorkspaceRequest) -> HttpResponse:
    """A member's own date format in this workspace (any role: it changes only what
    they see)."""
    try:
        services.membership_date_locale_set(
            membership=request.membership,
            date_locale=request.POST.get("date_locale", ""),
            actor=request.actor,
        )
    except DomainError as exc:
        messages.error(request, " ".join(exc.fields.get("date_locale", [exc.message])))
    else:
        messages.success(request, "Your date format is saved.")
    return redirect("workspaces:settings", slug=request.workspace.slug)


def _invite_link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("workspaces:invitation", args=[token]))


@workspace_view(write_methods_role=Role.ADMIN)
def settings_members(request: WorkspaceRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    values = {"email": "", "role": Role.MARKETER.value}
    if request.method == "POST":
        values = {"email": request.POST.get("email", ""), "role": request.POST.get("role", "")}
        try:
            invitation, token = members.invitation_create(
                workspace=request.workspace,
                email=values["email"],
                role=values["role"],
                manager=members.Manager.of(request.membership),
            )
        except DomainError as exc:
            errors = exc.fields or {"email": [exc.message]}
        else:
            link = _invite_link(request, token)
            transaction.on_commit(lambda: tasks.send_invitation.delay(invitation.pk, link))
            messages.success(
                request, f"Invitation sent to {invitation.email}. It expires in 7 days."
            )
            return redirect("workspaces:members", slug=request.workspace.slug)
    grantable = [
        (role.value, role.label)
        for role in Role
        if role != Role.OWNER or request.membership.role == Role.OWNER
    ]
    return render(
        request,
        "workspaces/settings_members.html",
        {
            "members": members.members_of(workspace=request.workspace),
            "invitations": members.invitations_open(workspace=request.workspace),
            "roles": grantable,
            "values": values,
            "errors": errors,
        },
    )


def _member_or_404(request: WorkspaceRequest, membership_id: int) -> Membership:
    return get_object_or_404(members.members_of(workspace=request.workspace), pk=membership_id)


@require_POST
@workspace_view(min_role=Role.VIEWER, write_methods_role=Role.VIEWER)
def member_change(request: WorkspaceRequest, membership_id: int) -> HttpResponse:
    """Change a member's role, or remove them (`remove` in the form); anyone may leave."""
    membership = _member_or_404(request, membership_id)
    leaving = membership.pk == request.membership.pk
    try:
        if "remove" in request.POST:
            members.membership_remove(
                membership=membership, manager=members.Manager.of(request.membership)
            )
            messages.success(
                request,
                "You left the workspace." if leaving else f"{membership.user.email} was removed.",
            )
            if leaving:
                return redirect("workspaces:home")
        else:
            members.membership_role_change(
                membership=membership,
                role=request.POST.get("role", ""),
                manager=members.Manager.of(request.membership),
            )
            messages.success(request, f"{membership.user.email} is now {membership.role}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("workspaces:members", slug=request.workspace.slug)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def invitation_revoke(request: WorkspaceRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        members.invitations_open(workspace=request.workspace), pk=invitation_id
    )
    try:
        members.invitation_revoke(
            invitation=invitation, manager=members.Manager.of(request.membership)
        )
        messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("workspaces:members", slug=request.workspace.slug)


def _new_account_errors(request: HttpRequest, invitation: Invitation) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    password = request.POST.get("password", "")
    if password != request.POST.get("password_again", ""):
        errors["password_again"] = ["the two passwords differ"]
    try:
        validate_password(password, User(email=invitation.email))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    return errors


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation email links to: join with the account of the invited
    address, or create that account here."""
    found = members.invitation_for_token(token)
    context: dict[str, Any] = {"invitation": found, "errors": {}}
    if found is None or found.status != "pending":
        return render(request, "workspaces/invitation.html", context, status=404)
    user = request.user if request.user.is_authenticated else None
    existing = User.objects.filter(email=found.email).first()
    context.update(signed_in=user, has_account=existing is not None, name="")
    if request.method == "POST":
        if user is None and existing is None:
            context["name"] = request.POST.get("name", "").strip()[:150]
            context["errors"] = _new_account_errors(request, found)
            if context["errors"]:
                return render(request, "workspaces/invitation.html", context)
            with transaction.atomic():
                user = services.user_get_or_create(
                    email=found.email, password=request.POST["password"], name=context["name"]
                )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if user is None:
            return redirect(f"{reverse('workspaces:login')}?next={request.path}")
        try:
            membership = members.invitation_accept(token=token, user=user)
        except DomainError as exc:
            context["errors"] = {"form": [exc.message]}
            return render(request, "workspaces/invitation.html", context)
        messages.success(request, f"Welcome to {membership.workspace.name}.")
        return redirect("contacts:contacts", slug=membership.workspace.slug)
    return render(request, "workspaces/invitation.html", context)
