"""Settings over the API (/api/v1/settings/...): general, members and invitations,
sending rules and reporting; bad input is a 400 naming the field, and an outsider's key
reaches only its own workspace (foreign ids are 404s)."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging.models import SendingPolicy
from tests.factories import MembershipFactory, UserFactory
from workspaces.models import AuditEntry, Invitation, Membership, Role

pytestmark = pytest.mark.django_db


def test_general_settings_read_and_change(owner, api):
    assert api.get("/api/v1/settings/general/").json() == {
        "name": "Acme",
        "time_zone": "UTC",
        "currency": "USD",
        "date_locale": "en-GB",
        "purchase_event_names": ["purchase"],
    }
    response = api.patch(
        "/api/v1/settings/general/",
        {
            "time_zone": "Europe/Paris",
            "currency": "eur",
            "date_locale": "de-DE",
            "purchase_event_names": ["order_paid", "purchase"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    owner.workspace.refresh_from_db()
    assert (owner.workspace.time_zone, owner.workspace.currency) == ("Europe/Paris", "EUR")
    assert owner.workspace.purchase_event_names == ["order_paid", "purchase"]
    assert owner.workspace.date_locale == "de-DE"
    assert AuditEntry.objects.filter(action="workspace.settings_changed").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"currency": "euro"}, "currency"),
        ({"currency": 978}, "currency"),
        ({"date_locale": "klingon"}, "date_locale"),
        ({"date_locale": 7}, "date_locale"),
        ({"purchase_event_names": []}, "purchase_event_names"),
        ({"purchase_event_names": "purchase"}, "purchase_event_names"),
        ({"purchase_event_names": ["has space"]}, "purchase_event_names"),
        ({"name": "   "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_general_settings_name_the_field(api, body, field):
    response = api.patch("/api/v1/settings/general/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_body_that_is_not_an_object_is_a_400(api):
    assert api.patch("/api/v1/settings/general/", [1], format="json").status_code == 400


def test_members_and_invitations(owner, api, teammate, django_capture_on_commit_callbacks):
    listed = api.get("/api/v1/settings/members/").json()
    assert {m["email"]: m["role"] for m in listed} == {
        "alice@acme.test": "owner",
        "bob@acme.test": "viewer",
    }
    with django_capture_on_commit_callbacks(execute=False):
        created = api.post(
            "/api/v1/settings/invitations/",
            {"email": "new@example.com", "role": "marketer"},
            format="json",
        )
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert "token" not in created.json()
    assert [i["email"] for i in api.get("/api/v1/settings/invitations/").json()] == [
        "new@example.com"
    ]
    assert api.delete(f"/api/v1/settings/invitations/{created.json()['id']}/").status_code == 204
    assert api.get("/api/v1/settings/invitations/").json() == []

    changed = api.patch(
        f"/api/v1/settings/members/{teammate.membership.pk}/", {"role": "marketer"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["role"] == "marketer"
    # An API key acts as an admin: it never touches the owner role.
    assert (
        api.patch(
            f"/api/v1/settings/members/{teammate.membership.pk}/", {"role": "owner"}, format="json"
        ).status_code
        == 403
    )
    assert (
        api.patch(
            f"/api/v1/settings/members/{owner.membership.pk}/", {"role": "viewer"}, format="json"
        ).status_code
        == 403
    )
    assert (
        api.post(
            "/api/v1/settings/invitations/",
            {"email": "x@example.com", "role": "owner"},
            format="json",
        ).status_code
        == 403
    )
    assert api.delete(f"/api/v1/settings/members/{teammate.membership.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=teammate.membership.pk).exists()


def test_bad_member_input(api, teammate):
    assert api.post("/api/v1/settings/invitations/", {"email": 5}, format="json").json()["error"][
        "fields"
    ] == {"email": ["required, a string"]}
    response = api.post(
        "/api/v1/settings/invitations/", {"email": "bob@acme.test", "role": "viewer"}, format="json"
    )
    assert response.status_code == 409
    response = api.patch(
        f"/api/v1/settings/members/{teammate.membership.pk}/", {"role": "emperor"}, format="json"
    )
    assert response.status_code == 400 and "role" in response.json()["error"]["fields"]


def test_outsider_reaches_only_its_own_workspace(owner, teammate, outsider_api):
    invitation = Invitation.objects.create(
        workspace=owner.workspace, email="z@example.com", role=Role.VIEWER, token_hash="x" * 64
    )
    assert (
        outsider_api.patch(
            f"/api/v1/settings/members/{teammate.membership.pk}/", {"role": "admin"}, format="json"
        ).status_code
        == 404
    )
    assert (
        outsider_api.delete(f"/api/v1/settings/members/{teammate.membership.pk}/").status_code
        == 404
    )
    assert outsider_api.delete(f"/api/v1/settings/invitations/{invitation.pk}/").status_code == 404
    assert "alice@acme.test" not in str(outsider_api.get("/api/v1/settings/members/").json())
    assert outsider_api.get("/api/v1/settings/general/").json()["name"] == "Globex"
    outsider_api.patch("/api/v1/settings/general/", {"currency": "JPY"}, format="json")
    owner.workspace.refresh_from_db()
    assert owner.workspace.currency == "USD"
    teammate.membership.refresh_from_db()
    assert teammate.membership.role == "viewer"


def test_dashboard_pages_save_and_viewers_cannot(owner, teammate):
    assert owner.web.get("/w/acme/settings/").status_code == 200
    response = owner.web.post(
        "/w/acme/settings/",
        {
            "name": "Acme Ltd",
            "time_zone": "Europe/Berlin",
            "currency": "EUR",
            "purchase_event_names": "purchase, order",
        },
    )
    assert response.status_code == 302
    owner.workspace.refresh_from_db()
    assert owner.workspace.purchase_event_names == ["purchase", "order"]
    bad = owner.web.post(
        "/w/acme/settings/",
        {
            "name": "Acme",
            "time_zone": "Nowhere",
            "currency": "EUR",
            "purchase_event_names": "purchase",
        },
    )
    assert bad.status_code == 200 and b"is not an IANA time zone" in bad.content
    assert teammate.web.post("/w/acme/settings/", {"name": "Hacked"}).status_code == 403
    assert teammate.web.get("/w/acme/settings/sending-rules/").status_code == 200
    assert (
        teammate.web.post("/w/acme/settings/sending-rules/", {"channel": "email"}).status_code
        == 403
    )

    response = owner.web.post(
        "/w/acme/settings/sending-rules/",
        {
            "channel": "sms",
            "capped": "1",
            "cap_messages": "2",
            "cap_period_hours": "48",
            "cap_policy": "skip",
            "quiet_hours_enabled": "1",
            "quiet_start": "20:00",
            "quiet_end": "09:00",
        },
    )
    assert response.status_code == 302
    row = SendingPolicy.objects.get(workspace=owner.workspace, channel="sms")
    assert (row.cap_messages, row.cap_period_hours, row.cap_policy) == (2, 48, "skip")
    bad = owner.web.post(
        "/w/acme/settings/sending-rules/",
        {
            "channel": "sms",
            "capped": "1",
            "cap_messages": "0",
            "cap_period_hours": "48",
            "quiet_start": "20:00",
            "quiet_end": "09:00",
        },
    )
    assert bad.status_code == 200 and b"a whole number from 1 to 1000" in bad.content

    assert owner.web.get("/w/acme/settings/reporting/").status_code == 200


def test_admins_manage_settings_too(owner):
    user = UserFactory.create(email="adm@acme.test")
    MembershipFactory.create(user=user, workspace=owner.workspace, role=Role.ADMIN)
    web = Client()
    web.force_login(user)
    assert (
        web.post(
            "/w/acme/settings/",
            {
                "name": "By admin",
                "time_zone": "UTC",
                "currency": "USD",
                "purchase_event_names": "purchase",
            },
        ).status_code
        == 302
    )
