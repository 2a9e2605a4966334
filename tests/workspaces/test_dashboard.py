"""Dashboard access: login, workspace scoping, roles, and the API keys page."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import ContactFactory, EventFactory, UserFactory
from workspaces.models import ApiKey

pytestmark = pytest.mark.django_db


def test_login_page_and_redirects(client, owner):
    assert client.get("/").status_code == 302
    assert client.get("/login/").status_code == 200
    response = client.post(
        "/login/", {"username": "alice@acme.test", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    response = client.get("/")
    assert response["Location"] == "/w/acme/contacts/"


def test_wrong_password_is_refused(client, owner):
    response = client.post("/login/", {"username": "alice@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_dashboard_posts_need_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    response = client.post("/w/acme/settings/api-keys/", {"name": "sneaky"})
    assert response.status_code == 403
    assert not ApiKey.objects.filter(name="sneaky").exists()
    assert client.get("/w/acme/settings/api-keys/").status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/w/acme/settings/api-keys/", {"name": "fine", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200 and ApiKey.objects.filter(name="fine").exists()


def test_logout_is_a_post(owner):
    assert owner.web.post("/logout/").status_code == 302
    assert owner.web.get("/w/acme/contacts/").status_code == 302


def test_pages_of_another_workspace_are_404(owner, outsider):
    contact = ContactFactory.create(workspace=owner.workspace)
    for url in (
        "/w/acme/contacts/",
        f"/w/acme/contacts/{contact.pk}/",
        "/w/acme/imports/",
        "/w/acme/settings/api-keys/",
        "/w/acme/contacts/export.csv",
    ):
        assert outsider.web.get(url).status_code == 404, url
    assert outsider.web.post(f"/w/acme/contacts/{contact.pk}/erase/").status_code == 404
    # And an id of ours under their own workspace's URL is just as invisible.
    assert outsider.web.get(f"/w/globex/contacts/{contact.pk}/").status_code == 404


def test_viewer_reads_but_cannot_write(teammate, owner):
    contact = ContactFactory.create(workspace=owner.workspace)
    assert teammate.web.get("/w/acme/contacts/").status_code == 200
    assert teammate.web.post("/w/acme/settings/api-keys/", {"name": "x"}).status_code == 403
    assert teammate.web.post(f"/w/acme/contacts/{contact.pk}/erase/").status_code == 403
    assert teammate.web.post("/w/acme/imports/", {}).status_code == 403
    assert ApiKey.objects.count() == 1


def test_contacts_page_lists_searches_and_pages(owner, django_assert_max_num_queries):
    for i in range(60):
        ContactFactory.create(workspace=owner.workspace, email=f"person{i}@example.com")
    ContactFactory.create(workspace=owner.workspace, email="zelda@hyrule.test", first_name="Zelda")
    with django_assert_max_num_queries(12):  # 10, the saved views, the latest export
        response = owner.web.get("/w/acme/contacts/")
    assert response.status_code == 200
    assert b"61 contacts" in response.content
    assert b"Next page" in response.content
    response = owner.web.get("/w/acme/contacts/", {"q": "zelda"}, HTTP_HX_REQUEST="true")
    assert b"zelda@hyrule.test" in response.content and b"person1@" not in response.content
    assert b"<html" not in response.content  # htmx gets the table only


def test_contact_page_shows_profile_consent_and_timeline(owner):
    contact = ContactFactory.create(
        workspace=owner.workspace,
        first_name="<script>alert(1)</script>",
        attributes={"plan": "<b>pro</b>"},
    )
    EventFactory.create(
        contact=contact,
        name="purchase",
        revenue="12.00",
        currency="USD",
        properties={"note": "<img src=x onerror=alert(1)>"},
    )
    response = owner.web.get(f"/w/acme/contacts/{contact.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "<b>pro</b>" not in html
    assert "purchase" in html and "$12.00" in html


def test_owner_creates_and_revokes_a_key(owner):
    response = owner.web.post("/w/acme/settings/api-keys/", {"name": "Zapier"})
    assert response.status_code == 200
    assert b"shown once" in response.content
    key = ApiKey.objects.get(name="Zapier")
    response = owner.web.post(f"/w/acme/settings/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_user_without_workspace_sees_guidance(db):
    web = Client()
    web.force_login(UserFactory.create(email="lonely@example.org"))
    response = web.get("/")
    assert response.status_code == 200 and b"No workspace" in response.content


def test_admin_lists_only_the_staff_users_workspaces(owner, outsider):
    ContactFactory.create(workspace=owner.workspace, email="ours@example.com")
    ContactFactory.create(workspace=outsider.workspace, email="theirs@example.com")
    owner.user.is_staff = True
    owner.user.save()
    response = owner.web.get("/admin/contacts/contact/")
    assert response.status_code == 200
    assert b"ours@example.com" in response.content
    assert b"theirs@example.com" not in response.content
    theirs = outsider.workspace.pk
    assert owner.web.get(f"/admin/workspaces/workspace/{theirs}/change/").status_code == 302


def test_superuser_admin_pages_load(owner):
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    EventFactory.create(contact=ContactFactory.create(workspace=owner.workspace))
    for url in (
        "/admin/",
        "/admin/contacts/contact/",
        "/admin/contacts/event/",
        "/admin/contacts/contact/?q=someone@example.com",
        "/admin/workspaces/apikey/",
        "/admin/contacts/importjob/",
        "/admin/workspaces/auditentry/",
    ):
        assert owner.web.get(url).status_code == 200, url
