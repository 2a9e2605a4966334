"""The sending settings pages: owners and admins change, everyone else reads, other
workspaces see nothing, and bad input comes back with the reason beside the field."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging.domain_models import SendingDomain
from messaging.models import MessagingSettings
from messaging.services import domains
from tests.factories import MembershipFactory, UserFactory
from workspaces.models import Role
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

SENDER = "/w/acme/settings/sending/"
DOMAINS = "/w/acme/settings/domains/"


def _member(ws, role: str) -> Client:
    client = Client()
    user = UserFactory.create()
    MembershipFactory.create(user=user, workspace=ws, role=role)
    client.force_login(user)
    return client


def test_marketers_and_viewers_read_but_cannot_change(ws):
    record = domains.sending_domain_create(
        workspace=ws, domain="shop.example", actor=Actor(system="test")
    )
    for role in (Role.MARKETER, Role.VIEWER):
        client = _member(ws, role)
        page = client.get(SENDER).content.decode()
        assert "Only the workspace's owners and admins" in page and "Save settings" not in page
        assert "disabled" in page
        assert client.post(SENDER, {"from_name": "x"}).status_code == 403
        listing = client.get(DOMAINS).content.decode()
        assert "shop.example" in listing and "Add domain" not in listing
        assert client.post(DOMAINS, {"domain": "b.example"}).status_code == 403
        detail = client.get(f"{DOMAINS}{record.pk}/").content.decode()
        assert record.dkim_value in detail and "Check now" not in detail
        assert client.post(f"{DOMAINS}{record.pk}/check/").status_code == 403
        assert client.post(f"{DOMAINS}{record.pk}/delete/").status_code == 403
    assert SendingDomain.objects.count() == 1
    assert not MessagingSettings.objects.exists()


def test_an_admin_changes_the_sender(ws):
    client = _member(ws, Role.ADMIN)
    response = client.post(SENDER, {"from_name": "Acme", "reply_to": "help@acme.example"})
    assert response.status_code == 302
    assert MessagingSettings.objects.get(workspace=ws).reply_to == "help@acme.example"


def test_bad_input_is_shown_beside_the_field(owner):
    page = owner.web.post(SENDER, {"sms_from_number": "555-0100", "from_name": "<b>x</b>"})
    text = page.content.decode()
    assert page.status_code == 200 and 'id="sms_from_number-error"' in text
    assert "is not in E.164 form" in text and "&lt;b&gt;x&lt;/b&gt;" in text
    page = owner.web.post(DOMAINS, {"domain": "<script>.example"})
    text = page.content.decode()
    assert 'id="domain-error"' in text and "<script>" not in text
    assert not SendingDomain.objects.exists()


def test_owner_adds_and_removes_a_domain_and_the_private_key_is_never_shown(owner):
    response = owner.web.post(DOMAINS, {"domain": "Shop.Example"})
    record = SendingDomain.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{record.pk}/")
    page = owner.web.get(f"{DOMAINS}{record.pk}/").content.decode()
    assert record.dkim_name in page and record.public_key_b64 in page
    assert "PRIVATE" not in page and record.private_key_pem.splitlines()[1] not in page
    assert "signed with the installation" in page or "without a DKIM signature" in page
    assert owner.web.post(f"{DOMAINS}{record.pk}/delete/").status_code == 302
    assert not SendingDomain.objects.exists()


def test_other_workspaces_pages_are_404(ws, outsider):
    record = domains.sending_domain_create(
        workspace=ws, domain="shop.example", actor=Actor(system="test")
    )
    for url in (SENDER, DOMAINS, f"{DOMAINS}{record.pk}/"):
        assert outsider.web.get(url).status_code == 404
    own = f"/w/{outsider.workspace.slug}/settings/domains/{record.pk}/"
    assert outsider.web.get(own).status_code == 404
    assert outsider.web.post(own + "check/").status_code == 404
    assert outsider.web.post(own + "delete/").status_code == 404
    assert SendingDomain.objects.filter(pk=record.pk).exists()


def test_admin_shows_domains_but_not_their_keys(owner, ws):
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    record = domains.sending_domain_create(
        workspace=ws, domain="shop.example", actor=Actor(system="test")
    )
    listing = owner.web.get("/admin/messaging/sendingdomain/")
    assert listing.status_code == 200 and b"shop.example" in listing.content
    page = owner.web.get(f"/admin/messaging/sendingdomain/{record.pk}/change/")
    assert page.status_code == 200 and b"shop.example" in page.content
    assert b"PRIVATE KEY" not in page.content
    assert record.private_key_pem.splitlines()[1].encode() not in page.content
