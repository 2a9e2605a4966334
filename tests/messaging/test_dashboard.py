"""Dashboard: template editor with live preview, the outbox, the admin."""

from __future__ import annotations

import pytest

from messaging.models import Message, Template
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue

pytestmark = pytest.mark.django_db
XSS = '<script>alert("x")</script>'


def test_template_pages_and_save(owner):
    web, slug = owner.web, owner.workspace.slug
    assert web.get(f"/w/{slug}/templates/").status_code == 200
    assert web.get(f"/w/{slug}/templates/new/?channel=email").status_code == 200
    response = web.post(
        f"/w/{slug}/templates/new/",
        {"name": "Hello", "channel": "email", "subject": "Hi", "body": "<p>{{ first_name }}</p>"},
    )
    assert response.status_code == 302
    template = Template.objects.get(workspace=owner.workspace)
    page = web.get(f"/w/{slug}/templates/{template.pk}/")
    assert b"Hello" in page.content and b"Send a test" in page.content


def test_saving_a_broken_template_shows_line_and_reason(owner):
    response = owner.web.post(
        f"/w/{owner.workspace.slug}/templates/new/",
        {"name": "Bad", "channel": "email", "subject": "Hi", "body": "ok\n{% load x %}"},
    )
    assert response.status_code == 200
    assert b"line 2: Invalid block tag" in response.content
    assert not Template.objects.exists()


def test_live_preview_renders_escaped_and_counts_segments(owner):
    contact = ContactFactory.create(workspace=owner.workspace, first_name=XSS)
    url = f"/w/{owner.workspace.slug}/templates/preview/"
    response = owner.web.post(
        url,
        {
            "channel": "email",
            "subject": "Hi {{ first_name }}",
            "body": "<p>Hello {{ first_name }}</p>",
            "contact": contact.email,
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "As " in html  # found by email
    # The preview iframe is sandboxed and its srcdoc escaped: the name is inert text.
    assert "<script>" not in html and "sandbox" in html
    sms = owner.web.post(url, {"channel": "sms", "body": "ł" * 71}).content.decode()
    assert "<strong>2</strong> segments" in sms and "UCS-2" in sms
    broken = owner.web.post(url, {"channel": "sms", "body": "{% debug %}"}).content.decode()
    assert "line 1: Invalid block tag" in broken


def test_outbox_shows_sandbox_messages_and_webhook_text_inert(owner):
    ws = owner.workspace
    contact = ContactFactory.create(workspace=ws, first_name=XSS)
    [mid] = enqueue([contact], email_template(ws))
    messages_send(claims=messages_claim())
    Message.objects.filter(pk=mid).update(error=XSS, status_reason=XSS)
    listing = owner.web.get(f"/w/{ws.slug}/outbox/").content.decode()
    assert "Hi " in listing and "<script>" not in listing
    detail = owner.web.get(f"/w/{ws.slug}/outbox/{mid}/").content.decode()
    assert "<script>" not in detail
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in detail
    assert 'iframe title="Email as sent" sandbox' in detail
    # Looking at it is not an open, and its links go straight to their targets.
    assert "/m/o/" not in detail and "/m/c/" not in detail
    assert "https://shop.example/offer?x=1" in detail


def test_outsider_and_viewer(owner, teammate, outsider):
    ws = owner.workspace
    template = email_template(ws)
    assert outsider.web.get(f"/w/{ws.slug}/templates/{template.pk}/").status_code == 404
    assert outsider.web.get(f"/w/{ws.slug}/outbox/").status_code == 404
    assert teammate.web.get(f"/w/{ws.slug}/templates/{template.pk}/").status_code == 200
    response = teammate.web.post(f"/w/{ws.slug}/templates/{template.pk}/delete/")
    assert response.status_code == 403
    assert Template.objects.filter(pk=template.pk).exists()


def test_outbox_query_count(owner, django_assert_max_num_queries):
    ws = owner.workspace
    enqueue([ContactFactory.create(workspace=ws) for _ in range(20)], email_template(ws))
    with django_assert_max_num_queries(12):
        assert owner.web.get(f"/w/{ws.slug}/outbox/").status_code == 200


def test_admin_refuses_a_broken_template(owner):
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    response = owner.web.post(
        "/admin/messaging/template/add/",
        {
            "workspace": owner.workspace.pk,
            "name": "x",
            "channel": "email",
            "subject": "s",
            "body": "{{ a|safe }}",
        },
    )
    assert response.status_code == 200 and b"Invalid filter" in response.content
    assert not Template.objects.exists()
    assert owner.web.get("/admin/messaging/message/").status_code == 200
