"""Templates are compiled on save (sandboxed), messages are enqueued once per key."""

from __future__ import annotations

import time

import pytest

from config.errors import Conflict, InvalidInput
from messaging.models import Message, Template
from messaging.rendering import html_to_text, inline_css, sms_segments
from messaging.sandbox import render_string
from messaging.services import message_enqueue, messages_enqueue_bulk, template_create
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db
ACTOR = Actor(system="test")


def _email(ws, **extra):
    data = {"name": "Welcome", "channel": "email", "subject": "Hi {{ first_name }}"}
    data["body"] = "<p>Hello {{ first_name|default:'there' }}</p>"
    data.update(extra)
    return template_create(workspace=ws, data=data, actor=ACTOR)


def test_template_saved_and_name_unique(ws):
    template = _email(ws)
    assert Template.objects.get(pk=template.pk).subject == "Hi {{ first_name }}"
    with pytest.raises(Conflict):
        _email(ws)


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("ok\n{% debug %}", 2, "Invalid block tag"),
        ("{% load static %}", 1, "Invalid block tag"),
        ("a\nb\n{% include '/etc/passwd' %}", 3, "Invalid block tag"),
        ("{% extends 'base.html' %}", 1, "Invalid block tag"),
        ("{{ name|safe }}", 1, "Invalid filter"),
        ("{{ name|pprint }}", 1, "Invalid filter"),
        ("{{ contact.__class__.__init__.__globals__ }}", 1, "may not begin with underscores"),
        ("{% url 'admin:index' %}", 1, "Invalid block tag"),
        ("{% csrf_token %}", 1, "Invalid block tag"),
        ("line one\n{% if %}", 2, "if"),
        ("{% for x in %}", 1, "for"),
    ],
)
def test_template_escapes_and_errors_refused_with_line(ws, body, line, reason):
    with pytest.raises(InvalidInput) as caught:
        _email(ws, body=body)
    message = caught.value.fields["body"][0]
    assert message.startswith(f"line {line}: "), message
    assert reason in message
    assert not Template.objects.filter(workspace=ws).exists()


def test_subject_errors_are_refused_too(ws):
    with pytest.raises(InvalidInput) as caught:
        _email(ws, subject="Hi {{ x|safe }}")
    assert "subject" in caught.value.fields


def test_render_escapes_data_in_html_and_uses_fallbacks():
    context = {"first_name": "", "last_name": "<img src=x onerror=alert(1)>"}
    out = render_string(
        "Hi {{ first_name|default:'there' }} {{ last_name }}", context, html_mode=True
    )
    assert out == "Hi there &lt;img src=x onerror=alert(1)&gt;"
    # Plain text and SMS are not HTML: no entities there.
    assert render_string("{{ last_name }}", context, html_mode=False) == context["last_name"]


def test_css_inlined_and_text_generated():
    document = "<html><head><style>p {color: red}</style></head><body><p>Hi</p></body></html>"
    assert 'style="color: red;"' in inline_css(document)
    text = html_to_text('<p>Read <a href="https://example.com/x">this</a></p><p>Bye</p>')
    assert text == "Read this (https://example.com/x)\n\nBye"
    # A remote stylesheet is never fetched (the sandbox reaches no network): an
    # unroutable address would hang the render for the connect timeout.
    remote = '<html><head><link rel="stylesheet" href="http://10.255.255.1/x.css"></head></html>'
    started = time.monotonic()
    inline_css(remote)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("ü" * 160, "GSM-7", 1),
        ("ł" * 70, "UCS-2", 1),
        ("ł" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # a surrogate pair is two UCS-2 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_sms_segments(text, encoding, segments):
    result = sms_segments(text)
    assert (result.encoding, result.segments) == (encoding, segments)


def test_enqueue_is_idempotent_per_workspace_key(ws, outsider):
    contact = ContactFactory.create(workspace=ws)
    template = _email(ws)
    first = message_enqueue(contact=contact, template=template, idempotency_key="welcome:1")
    again = message_enqueue(contact=contact, template=template, idempotency_key="welcome:1")
    assert first.created and not again.created
    assert first.message.pk == again.message.pk
    assert Message.objects.filter(workspace=ws).count() == 1
    assert first.message.status == "scheduled" and first.message.channel == "email"
    # The same key in another workspace is another message.
    other = ContactFactory.create(workspace=outsider.workspace)
    other_template = _email(outsider.workspace)
    assert message_enqueue(
        contact=other, template=other_template, idempotency_key="welcome:1"
    ).created


def test_enqueue_refuses_a_foreign_template(ws, outsider):
    contact = ContactFactory.create(workspace=ws)
    with pytest.raises(InvalidInput):
        message_enqueue(contact=contact, template=_email(outsider.workspace), idempotency_key="k")


def test_bulk_enqueue_twice_adds_once(ws):
    template = _email(ws)
    ids = [ContactFactory.create(workspace=ws).pk for _ in range(5)]
    assert messages_enqueue_bulk(template=template, contact_ids=ids, key_prefix="b1") == 5
    assert messages_enqueue_bulk(template=template, contact_ids=ids, key_prefix="b1") == 0
    assert Message.objects.filter(workspace=ws).count() == 5
