"""Members: invitations by email with an expiring one-use link, role changes and removal,
and the last owner who can be neither demoted nor removed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from config.errors import Conflict, Forbidden, NotFound
from tests.factories import MembershipFactory, UserFactory
from workspaces import members, tasks
from workspaces.members import Manager
from workspaces.models import AuditEntry, Invitation, Membership, Role, User, Workspace

pytestmark = pytest.mark.django_db


def _invite_link(body: str) -> str:
    match = re.search(r"https?://\S+/invitations/(\S+)/", body)
    assert match, body
    return f"/invitations/{match.group(1)}/"


def test_owner_invites_by_email_and_the_new_person_joins_with_the_role(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    # The worker's part, run here: the task the page queues after commit.
    monkeypatch.setattr(
        tasks.send_invitation, "delay", lambda *args: tasks.send_invitation.apply(args=args)
    )
    Workspace.objects.filter(pk=owner.workspace.pk).update(date_locale="iso")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.web.post(
            "/w/acme/settings/members/", {"email": " Dana@Example.COM ", "role": "admin"}
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"]
    assert "Acme" in message.subject and "as admin" in message.body
    link = _invite_link(str(message.body))
    invitation = Invitation.objects.get(email="dana@example.com")
    # The link's expiry in the workspace's date format.
    assert f"{invitation.expires_at:%Y-%m-%d %H:%M}" in message.body
    assert link.split("/")[2] not in str(Invitation.objects.filter(pk=invitation.pk).values()[0])

    stranger = Client()
    page = stranger.get(link)
    assert page.status_code == 200 and b"Create account and join" in page.content
    refused = stranger.post(link, {"name": "Dana", "password": "short", "password_again": "short"})
    assert refused.status_code == 200
    assert not User.objects.filter(email="dana@example.com").exists()
    joined = stranger.post(
        link,
        {
            "name": "Dana",
            "password": "a long fine passphrase",
            "password_again": "a long fine passphrase",
        },
    )
    assert joined.status_code == 302 and joined["Location"] == "/w/acme/contacts/"
    membership = Membership.objects.get(user__email="dana@example.com", workspace=owner.workspace)
    assert membership.role == Role.ADMIN
    assert stranger.get("/w/acme/contacts/").status_code == 200
    # The link worked once.
    assert Client().get(link).status_code == 404
    assert AuditEntry.objects.filter(action="invitation.accepted").count() == 1


def test_an_existing_user_logs_in_and_joins(owner, outsider):
    _, token = members.invitation_create(
        workspace=owner.workspace,
        email=outsider.user.email,
        role="viewer",
        manager=Manager.of(owner.membership),
    )
    anonymous = Client()
    page = anonymous.get(f"/invitations/{token}/")
    assert b"log in to join" in page.content.lower()
    response = outsider.web.post(f"/invitations/{token}/")
    assert response.status_code == 302
    assert Membership.objects.get(user=outsider.user, workspace=owner.workspace).role == "viewer"


def test_another_account_cannot_use_the_link(owner, outsider):
    _, token = members.invitation_create(
        workspace=owner.workspace,
        email="erin@example.com",
        role="marketer",
        manager=Manager.of(owner.membership),
    )
    response = outsider.web.post(f"/invitations/{token}/")
    assert response.status_code == 200
    assert not Membership.objects.filter(user=outsider.user, workspace=owner.workspace).exists()


def test_expired_and_withdrawn_links_are_refused(owner):
    invitation, token = members.invitation_create(
        workspace=owner.workspace,
        email="f@example.com",
        role="marketer",
        manager=Manager.of(owner.membership),
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert Client().get(f"/invitations/{token}/").status_code == 404
    user = UserFactory.create(email="f@example.com")
    with pytest.raises(NotFound):
        members.invitation_accept(token=token, user=user)

    again, token2 = members.invitation_create(
        workspace=owner.workspace,
        email="f@example.com",
        role="marketer",
        manager=Manager.of(owner.membership),
    )
    members.invitation_revoke(invitation=again, manager=Manager.of(owner.membership))
    with pytest.raises(NotFound):
        members.invitation_accept(token=token2, user=user)
    assert Client().get("/invitations/not-a-token/").status_code == 404


def test_a_new_invitation_replaces_the_open_one(owner):
    _, first = members.invitation_create(
        workspace=owner.workspace,
        email="g@example.com",
        role="viewer",
        manager=Manager.of(owner.membership),
    )
    _, second = members.invitation_create(
        workspace=owner.workspace,
        email="g@example.com",
        role="admin",
        manager=Manager.of(owner.membership),
    )
    user = UserFactory.create(email="g@example.com")
    with pytest.raises(NotFound):
        members.invitation_accept(token=first, user=user)
    assert members.invitation_accept(token=second, user=user).role == "admin"


def test_members_cannot_be_invited_twice_and_bad_input_is_named(owner, teammate):
    response = owner.web.post(
        "/w/acme/settings/members/", {"email": teammate.user.email, "role": "viewer"}
    )
    assert response.status_code == 200 and b"already a member" in response.content
    response = owner.web.post(
        "/w/acme/settings/members/", {"email": "not an address", "role": "viewer"}
    )
    assert response.status_code == 200 and b"not an email address" in response.content
    response = owner.web.post(
        "/w/acme/settings/members/", {"email": "h@example.com", "role": "king"}
    )
    assert response.status_code == 200 and b"one of" in response.content


def test_only_admins_manage_members_and_only_owners_grant_owner(owner, teammate):
    # teammate is a viewer: the page refuses their invitation.
    assert (
        teammate.web.post(
            "/w/acme/settings/members/", {"email": "x@example.com", "role": "viewer"}
        ).status_code
        == 403
    )
    admin_user = UserFactory.create(email="adm@acme.test")
    admin = MembershipFactory.create(user=admin_user, workspace=owner.workspace, role=Role.ADMIN)
    with pytest.raises(Forbidden):
        members.invitation_create(
            workspace=owner.workspace,
            email="y@example.com",
            role="owner",
            manager=Manager.of(admin),
        )
    with pytest.raises(Forbidden):
        members.membership_role_change(
            membership=owner.membership, role="viewer", manager=Manager.of(admin)
        )
    members.membership_role_change(
        membership=teammate.membership, role="marketer", manager=Manager.of(admin)
    )
    teammate.membership.refresh_from_db()
    assert teammate.membership.role == "marketer"


def test_the_last_owner_can_be_neither_demoted_nor_removed(owner, teammate):
    with pytest.raises(Conflict):
        members.membership_role_change(
            membership=owner.membership, role="admin", manager=Manager.of(owner.membership)
        )
    with pytest.raises(Conflict):
        members.membership_remove(membership=owner.membership, manager=Manager.of(owner.membership))
    response = owner.web.post(f"/w/acme/settings/members/{owner.membership.pk}/", {"remove": "1"})
    assert response.status_code == 302
    assert Membership.objects.filter(pk=owner.membership.pk).exists()
    # With a second owner, the first may step down.
    members.membership_role_change(
        membership=teammate.membership, role="owner", manager=Manager.of(owner.membership)
    )
    members.membership_role_change(
        membership=owner.membership, role="admin", manager=Manager.of(owner.membership)
    )
    owner.membership.refresh_from_db()
    assert owner.membership.role == "admin"


def test_owner_removes_a_member_who_then_loses_access(owner, teammate):
    response = owner.web.post(
        f"/w/acme/settings/members/{teammate.membership.pk}/", {"remove": "1"}
    )
    assert response.status_code == 302
    assert teammate.web.get("/w/acme/contacts/").status_code == 404
    assert AuditEntry.objects.filter(
        action="membership.removed", object_id=teammate.user.pk
    ).exists()


def test_outsiders_cannot_touch_members_of_another_workspace(owner, outsider, teammate):
    assert outsider.web.get("/w/acme/settings/members/").status_code == 404
    # Their own workspace's URL with a foreign membership id: 404, nothing changes.
    response = outsider.web.post(
        f"/w/globex/settings/members/{teammate.membership.pk}/", {"role": "owner"}
    )
    assert response.status_code == 404
    teammate.membership.refresh_from_db()
    assert teammate.membership.role == "viewer"
