"""Tracking and unsubscribe tokens carry their message's workspace, so each lookup is
read within one workspace (one shard on Citus); links sent before that (the old
format, message and index only) keep working; and a token that names workspace A
cannot reach a message of workspace B."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.utils import timezone

from messaging import tokens
from messaging.models import Message, TrackingEvent
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db
HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0"
LINK = "https://shop.example/offer?x=1"  # the link of email_template's body


def _sent(ws: Workspace) -> Message:
    contact = ContactFactory.create(workspace=ws)
    [message_id] = enqueue([contact], email_template(ws))
    messages_send(claims=messages_claim())
    Message.objects.filter(pk=message_id).update(sent_at=timezone.now() - dt.timedelta(minutes=1))
    return Message.objects.select_related("contact").get(pk=message_id)


def _old_token(kind: str, message_id: int, index: int = 0) -> str:
    """A token as links were signed before they carried the workspace."""
    salt = tokens.SALTS[kind]
    return signing.Signer(key=settings.SECRET_KEY, salt=salt).sign(f"{message_id}.{index}")


def test_new_tokens_name_the_workspace_and_the_message(ws):
    token = tokens.make_token("click", 41, 2, workspace_id=ws.pk)
    assert tokens.read_token("click", token) == tokens.MessageRef(ws.pk, 41, 2)
    assert tokens.read_token("click", _old_token("click", 41, 2)) == tokens.MessageRef(None, 41, 2)
    assert tokens.read_token("open", token) is None  # each purpose its own salt


def test_links_sent_in_the_old_format_still_work(ws):
    sent = _sent(ws)
    client = Client()
    client.get(f"/m/o/{_old_token('open', sent.pk)}.gif", HTTP_USER_AGENT=HUMAN)
    assert TrackingEvent.objects.filter(message=sent, kind="open").exists()
    answer = client.get(f"/m/c/{_old_token('click', sent.pk)}/", HTTP_USER_AGENT=HUMAN)
    assert answer.status_code == 302 and answer["Location"] == LINK
    page = client.post(f"/m/u/{_old_token('unsubscribe', sent.pk)}/", {"action": "unsubscribe"})
    assert page.status_code == 200
    assert sent.contact is not None
    sent.contact.refresh_from_db()
    assert sent.contact.email_status == "unsubscribed"


def test_old_format_short_sms_links_still_work(ws):
    sent = _sent(ws)
    Message.objects.filter(pk=sent.pk).update(links=[LINK])
    value = f"{tokens._b36(sent.pk)}-0"  # the old short token: message and index only
    old = value + tokens._short_sig(value)
    assert tokens.read_short_token(old) == tokens.MessageRef(None, sent.pk, 0)
    answer = Client().get(f"/m/s/{old}", HTTP_USER_AGENT=HUMAN)
    assert answer.status_code == 302 and answer["Location"] == LINK


def test_a_token_of_one_workspace_cannot_reach_another_workspaces_message(ws, outsider):
    theirs = _sent(outsider.workspace)
    client = Client()
    # Signed by us, naming our workspace and their message's id: nothing is found.
    for kind, path in (("click", "/m/c/{}/"), ("unsubscribe", "/m/u/{}/")):
        token = tokens.make_token(kind, theirs.pk, workspace_id=ws.pk)
        assert client.get(path.format(token), HTTP_USER_AGENT=HUMAN).status_code == 404
    short = tokens.make_short_token(theirs.pk, 0, workspace_id=ws.pk)
    assert client.get(f"/m/s/{short}", HTTP_USER_AGENT=HUMAN).status_code == 404
    pixel = tokens.make_token("open", theirs.pk, workspace_id=ws.pk)
    assert client.get(f"/m/o/{pixel}.gif", HTTP_USER_AGENT=HUMAN).status_code == 200
    assert not TrackingEvent.objects.filter(message=theirs).exists()
    assert theirs.contact is not None
    theirs.contact.refresh_from_db()
    assert theirs.contact.email_status == "subscribed"
    # Their own token, with their workspace, works.
    token = tokens.make_token("click", theirs.pk, workspace_id=outsider.workspace.pk)
    assert client.get(f"/m/c/{token}/", HTTP_USER_AGENT=HUMAN).status_code == 302


def test_sent_links_carry_the_workspace(ws):
    sent = _sent(ws)
    click = tokens.click_url(sent.pk, 0, workspace_id=ws.pk)
    assert click in sent.body_html
    assert tokens.unsubscribe_url(sent.pk, workspace_id=ws.pk) in sent.body_html


def test_an_email_sent_with_old_links_shows_in_the_outbox_without_its_tracking(owner):
    ws = owner.workspace
    sent = _sent(ws)
    new_click = tokens.click_url(sent.pk, 0, workspace_id=ws.pk)
    new_open = tokens.open_url(sent.pk, workspace_id=ws.pk)
    old_click = new_click.replace(
        tokens.make_token("click", sent.pk, 0, workspace_id=ws.pk), _old_token("click", sent.pk)
    )
    old_open = new_open.replace(
        tokens.make_token("open", sent.pk, workspace_id=ws.pk), _old_token("open", sent.pk)
    )
    # The body as a worker rendered it before links carried the workspace.
    body = sent.body_html.replace(new_click, old_click).replace(new_open, old_open)
    Message.objects.filter(pk=sent.pk).update(body_html=body)
    detail = owner.web.get(f"/w/{ws.slug}/outbox/{sent.pk}/").content.decode()
    assert "/m/o/" not in detail and "/m/c/" not in detail
    assert LINK in detail
