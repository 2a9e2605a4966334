"""Members of a workspace: invitations by email, role changes and removals.

The rules a workspace owner relies on:
- only admins and owners manage members, and only an owner grants, changes or removes
  the owner role;
- a workspace always keeps at least one owner: the last owner can be neither demoted
  nor removed. Owner rows are locked (in id order) before the count, so two owners
  demoting each other at once cannot both win;
- an invitation link works once, for the address it was sent to, until it expires.
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from dataclasses import dataclass

from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ValidationError
from django.utils import timezone

from config.errors import Conflict, Forbidden, InvalidInput, NotFound
from workspaces.dates import format_when
from workspaces.models import ROLE_RANK, Invitation, Membership, Role, User, Workspace
from workspaces.services import Actor, audit_record, membership_set


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _role(value: str) -> Role:
    if value not in Role.values:
        raise InvalidInput("Unknown role.", fields={"role": [f"one of {', '.join(Role.values)}"]})
    return Role(value)


@dataclass(frozen=True)
class Manager:
    """Who manages members, and with what role: a member from the dashboard, or an API
    key, which acts as an admin (it can never grant or change the owner role)."""

    actor: Actor
    role: Role

    @classmethod
    def of(cls, membership: Membership) -> Manager:
        return cls(Actor(user=membership.user), Role(membership.role))

    @property
    def can_admin(self) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[Role.ADMIN]


def _may_grant(manager: Manager, role: Role) -> None:
    if not manager.can_admin:
        raise Forbidden("Only admins and owners manage members.")
    if role == Role.OWNER and manager.role != Role.OWNER:
        raise Forbidden("Only an owner can make someone an owner.", fields={"role": ["owner"]})


def members_of(*, workspace: Workspace) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__email")
    )


def invitations_open(*, workspace: Workspace) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            workspace=workspace,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, email: str, role: str, manager: Manager
) -> tuple[Invitation, str]:
    """An invitation and the token of its link (never stored: only its hash is). A new
    invitation to an address replaces the open one."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            "Enter the address to invite.", fields={"email": ["not an email address"]}
        ) from None
    granted = _role(role)
    _may_grant(manager, granted)
    if Membership.objects.filter(workspace=workspace, user__email=email).exists():
        raise Conflict(f"{email} is already a member.", fields={"email": ["already a member"]})
    now = timezone.now()
    Invitation.objects.filter(
        workspace=workspace, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        workspace=workspace,
        email=email,
        role=granted,
        token_hash=_token_hash(token),
        invited_by=manager.actor.user,
    )
    invitation.full_clean()
    invitation.save()
    audit_record(
        workspace=workspace,
        action="invitation.created",
        actor=manager.actor,
        object_type="invitation",
        object_id=invitation.pk,
        details={"role": granted.value},
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link names, whatever its state (the page says which)."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=_token_hash(token))
        .first()
    )


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the workspace with the invited role. The conditional update lets exactly one
    request use the link."""
    invitation = invitation_for_token(token)
    if invitation is None or invitation.status != "pending":
        raise NotFound("This invitation link is not valid any more.")
    if invitation.email != user.email.lower():
        raise InvalidInput(
            f"This invitation is for {invitation.email}.", fields={"email": ["another address"]}
        )
    won = Invitation.objects.filter(
        pk=invitation.pk,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if not won:
        raise NotFound("This invitation link is not valid any more.")
    existing = Membership.objects.filter(workspace=invitation.workspace, user=user).first()
    role = Role(invitation.role)
    if existing is not None and ROLE_RANK[Role(existing.role)] >= ROLE_RANK[role]:
        membership = existing  # an invitation never lowers a member's role
    else:
        membership = membership_set(workspace=invitation.workspace, user=user, role=role)
    audit_record(
        workspace=invitation.workspace,
        action="invitation.accepted",
        actor=Actor(user=user),
        object_type="invitation",
        object_id=invitation.pk,
        details={"role": membership.role},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, manager: Manager) -> None:
    _may_grant(manager, Role(invitation.role))
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked:
        audit_record(
            workspace=invitation.workspace,
            action="invitation.revoked",
            actor=manager.actor,
            object_type="invitation",
            object_id=invitation.pk,
        )


def _other_owners_locked(membership: Membership) -> int:
    owners = list(
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return len([pk for pk in owners if pk != membership.pk])


def _may_change(manager: Manager, membership: Membership) -> None:
    if not manager.can_admin:
        raise Forbidden("Only admins and owners manage members.")
    if membership.role == Role.OWNER and manager.role != Role.OWNER:
        raise Forbidden("Only an owner can change an owner.", fields={"role": ["owner"]})


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, manager: Manager) -> Membership:
    new_role = _role(role)
    _may_change(manager, membership)
    _may_grant(manager, new_role)
    if membership.role == new_role:
        return membership
    if membership.role == Role.OWNER and _other_owners_locked(membership) == 0:
        raise Conflict(
            "A workspace needs an owner: make someone else owner first.",
            fields={"role": ["last owner"]},
        )
    old = membership.role
    membership.role = new_role
    membership.save(update_fields=["role"])
    audit_record(
        workspace=membership.workspace,
        action="membership.role_changed",
        actor=manager.actor,
        object_type="user",
        object_id=membership.user_id,
        details={"from": old, "to": new_role.value},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, manager: Manager) -> None:
    """Remove a member (or leave, when it is the actor's own membership)."""
    if membership.user_id != getattr(manager.actor.user, "pk", None):
        _may_change(manager, membership)
    if membership.role == Role.OWNER and _other_owners_locked(membership) == 0:
        raise Conflict(
            "A workspace needs an owner: make someone else owner first.",
            fields={"role": ["last owner"]},
        )
    Membership.objects.filter(pk=membership.pk).delete()
    audit_record(
        workspace=membership.workspace,
        action="membership.removed",
        actor=manager.actor,
        object_type="user",
        object_id=membership.user_id,
        details={"role": membership.role},
    )


def invitation_email_send(*, invitation_id: int, link: str) -> bool:
    """Email the link to an open invitation; False when it is no longer open."""
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.status != "pending":
        return False
    inviter = invitation.invited_by.email if invitation.invited_by else "A teammate"
    expires = format_when(
        timezone.localtime(
            invitation.expires_at, zoneinfo.ZoneInfo(invitation.workspace.time_zone)
        ),
        locale=invitation.workspace.date_locale,
    )
    send_mail(
        subject=f"You are invited to {invitation.workspace.name} on Stagecraft",
        message=(
            f"{inviter} invited you to join {invitation.workspace.name} on Stagecraft "
            f"as {invitation.get_role_display().lower()}.\n\n"
            f"Accept the invitation: {link}\n\n"
            f"The link works once and expires on {expires} "
            f"({invitation.workspace.time_zone}).\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return True
