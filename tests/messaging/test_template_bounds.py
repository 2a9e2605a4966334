"""Template rendering is bounded (messaging/sandbox.py): what the text alone makes
too large or slow is refused on save with the field and the reason; what depends on a
contact's data stops at render time, failing that preview (400) or that message (with
the reason on it) and never the worker."""

from __future__ import annotations

import time
from typing import Any

import pytest

from messaging.models import Message
from messaging.render_bounds import MAX_LOOP_ITERATIONS, RenderBudget, RenderLimitExceeded
from messaging.rendering import html_to_text, rewrite_links
from messaging.sandbox import render_string as sandbox_render
from messaging.services.claims import message_dispatch_due, messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue
from tests.processes import Worker, child_env, purge_broker

# The example (22 doublings, 40 MB), and four-fold growth within the nesting
# limit: both are refused on save.
NESTED_WITH = "{% with a='xx' %}" + "{% with a=a|add:a %}" * 22 + "{{ a|length }}"
NESTED_WITH += "{% endwith %}" * 23
GROWING_WITH = "{% with a='xx' %}" + "{% with a=a|add:a|add:a|add:a %}" * 12
GROWING_WITH += "{{ a|length }}" + "{% endwith %}" * 13
SEVEN_LOOPS = "{% for a in '0123456789' %}" * 7 + "x" + "{% endfor %}" * 7
BIG_LOOPS = "{% for a in '" + "x" * 30 + "' %}" + "{% for b in '" + "x" * 30 + "' %}"
BIG_LOOPS += "{% for c in '" + "x" * 30 + "' %}y{% endfor %}{% endfor %}{% endfor %}"


def _create(api: Any, **fields: str) -> Any:
    data = {"name": "T", "channel": "email", "subject": "Hi", "body": "<p>Hi</p>", **fields}
    return api.post("/api/v1/templates/", data, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "source", "reason"),
    [
        ("body", '{{ first_name|ljust:"5000000" }}', "width of ljust, rjust and center"),
        ("body", '<p>{{ first_name|center:"1e13" }}</p>', "must be a number"),
        ("body", '{{ first_name|rjust:"1001" }}', "at most 1000"),
        ("subject", '{{ first_name|ljust:"5000000" }}', "width of ljust"),
        ("body", "{% autoescape off %}{{ first_name }}{% endautoescape %}", "autoescape"),
        ("body", SEVEN_LOOPS, "for loops nest at most 3 deep"),
        ("body", "{{ 1.5|floatformat:'100000' }}", "floatformat"),
        ("body", NESTED_WITH, "blocks nest at most 20 deep"),
        ("body", GROWING_WITH, "a value grew past 100,000 characters"),
        ("body", BIG_LOOPS, f"loops ran more than {MAX_LOOP_ITERATIONS:,} times"),
        ("body", "{% if x %}" * 30 + "{% endif %}" * 30, "blocks nest at most 20 deep"),
        ("body", "{% if x %}" * 400 + "{% endif %}" * 400, "nest"),
    ],
)
def test_api_refuses_unbounded_templates_with_field_and_reason(owner, field, source, reason):
    started = time.monotonic()
    response = _create(owner.api, **{field: source})
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert reason in error["fields"][field][0], error
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.django_db
def test_api_update_refuses_too(owner):
    created = _create(owner.api)
    assert created.status_code == 201
    response = owner.api.patch(
        f"/api/v1/templates/{created.json()['id']}/",
        {"body": '{{ first_name|ljust:"5000000" }}'},
        format="json",
    )
    assert response.status_code == 400
    assert "width of ljust" in response.json()["error"]["fields"]["body"][0]


@pytest.mark.django_db
def test_width_from_data_that_is_not_a_number_renders_empty_not_500(owner):
    created = _create(owner.api, body=PER_CONTACT.replace("ljust", "center"))
    contact = ContactFactory.create(
        workspace=owner.workspace, attributes={"bio": "x", "width": "1e13"}
    )
    response = owner.api.post(
        f"/api/v1/templates/{created.json()['id']}/preview/",
        {"contact_id": contact.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert "<p></p>" in response.json()["html"]


@pytest.mark.django_db
def test_bounded_templates_still_render():
    source = (
        "{% for a in '01' %}{% for b in '01' %}{% for c in '01' %}"
        "{{ forloop.counter }}{% endfor %}{% endfor %}{% endfor %}"
        "|{{ name|ljust:'8' }}|{{ name|center:'9' }}|{{ 3.14159|floatformat:2 }}"
        "|{{ 10|divisibleby:0 }}|{% with b=name|add:name %}{{ b }}{% endwith %}"
    )
    out = sandbox_render(source, {"name": "Ada"}, html_mode=False)
    assert out == "12121212|Ada     |   Ada   |3.14||AdaAda"


# -- data-dependent bounds: previews -----------------------------------------------------

PER_CONTACT = "<p>{{ attributes.bio|ljust:attributes.width }}</p>"
LOOPS_OVER_DATA = (
    "{% for a in attributes.items %}{% for b in attributes.items %}"
    "{% for c in attributes.items %}x{% endfor %}{% endfor %}{% endfor %}"
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "attributes", "reason"),
    [
        (PER_CONTACT, {"bio": "x", "width": "5000000"}, "width of ljust"),
        (LOOPS_OVER_DATA, {f"k{i}": i for i in range(30)}, "loops ran more than"),
    ],
)
def test_preview_over_a_bound_is_a_400_naming_the_field(owner, body, attributes, reason):
    created = _create(owner.api, body=body)
    assert created.status_code == 201, created.content
    contact = ContactFactory.create(workspace=owner.workspace, attributes=attributes)
    response = owner.api.post(
        f"/api/v1/templates/{created.json()['id']}/preview/",
        {"contact_id": contact.pk},
        format="json",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert reason in error["fields"]["body"][0] and "rendering stopped" in error["message"]
    # The dashboard's live preview shows the reason instead of failing.
    page = owner.web.post(
        f"/w/{owner.workspace.slug}/templates/preview/",
        {"channel": "email", "subject": "Hi", "body": body, "contact": contact.email},
    )
    assert page.status_code == 200 and reason in page.content.decode()


def test_deadline_stops_a_slow_render(settings):
    settings.TEMPLATE_RENDER_SECONDS = 0.3
    source = (
        "{% for a in items %}{% for b in items %}{{ bio|slugify|length }}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(RenderLimitExceeded, match=r"longer than 0.3 s"):
        sandbox_render(
            source,
            {"items": list(range(100)), "bio": "Lorem ipsum " * 8000},
            html_mode=False,
            budget=RenderBudget.start(),
        )
    assert time.monotonic() - started < 1.0


def test_output_is_bounded_as_it_grows():
    source = "{% for a in items %}{{ bio }}{% endfor %}"
    with pytest.raises(RenderLimitExceeded, match="output passed 1,000,000"):
        sandbox_render(source, {"items": list(range(1000)), "bio": "y" * 90_000}, html_mode=False)


# -- data-dependent bounds: sending ------------------------------------------------------

SEND_BODY = (
    "<p>Hi {{ first_name }}</p>{% for a in attributes.items %}{% for b in attributes.items %}"
    "{{ attributes.bio|slugify|length }}{% endfor %}{% endfor %}"
    "<p>{{ attributes.note|ljust:attributes.width }}</p>"
)


def _contacts(ws: Any) -> tuple[Any, Any, Any]:
    ok = ContactFactory.create(workspace=ws, first_name="Ok", attributes={"width": "3"})
    wide = ContactFactory.create(workspace=ws, first_name="Wide", attributes={"width": "9999999"})
    slow_attrs: dict[str, Any] = {f"k{i}": i for i in range(99)}
    slow_attrs["bio"] = "Lorem ipsum " * 8000
    slow = ContactFactory.create(workspace=ws, first_name="Slow", attributes=slow_attrs)
    return ok, wide, slow


@pytest.mark.django_db
def test_dispatch_fails_only_the_message_over_the_bounds(ws, settings):
    settings.TEMPLATE_RENDER_SECONDS = 0.5
    ok, wide, slow = _contacts(ws)
    ids = enqueue([ok, wide, slow], email_template(ws, body=SEND_BODY))
    started = time.monotonic()
    counts = messages_send(claims=messages_claim(limit=10))
    assert time.monotonic() - started < 5
    assert counts["sent"] == 1 and counts["failed"] == 2
    by_contact = {m.contact_id: m for m in Message.objects.filter(pk__in=ids)}
    assert by_contact[ok.pk].status == "sent" and "Hi Ok" in by_contact[ok.pk].body_html
    assert by_contact[wide.pk].status == "failed"
    assert by_contact[wide.pk].status_reason == (
        "template body: rendering stopped: the width of ljust, rjust and center is at most 1000"
    )
    assert by_contact[slow.pk].status == "failed"
    assert by_contact[slow.pk].status_reason == (
        "template body: rendering stopped: rendering took longer than 0.5 s"
    )
    assert by_contact[slow.pk].body_html == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_worker_fails_the_message_and_goes_on_sending(ws):
    """A real worker process: the messages over the bounds fail with their reason,
    the others are sent, and the same worker then sends a later batch."""
    purge_broker()
    ok, wide, slow = _contacts(ws)
    template = email_template(ws, body=SEND_BODY)
    ids = enqueue([ok, wide, slow], template)
    worker = Worker(concurrency=1).start(env=child_env(TEMPLATE_RENDER_SECONDS="0.5"))
    try:
        deadline = time.monotonic() + 60
        while Message.objects.filter(pk__in=ids, status__in=["scheduled", "sending"]).exists():
            assert time.monotonic() < deadline, "messages left unsent"
            message_dispatch_due()
            time.sleep(0.2)
        statuses = dict(Message.objects.filter(pk__in=ids).values_list("contact_id", "status"))
        assert statuses == {ok.pk: "sent", wide.pk: "failed", slow.pk: "failed"}
        later = enqueue([ContactFactory.create(workspace=ws)], template, prefix="later")
        while Message.objects.filter(pk__in=later, status="sent").count() < 1:
            assert time.monotonic() < deadline, "the worker stopped sending"
            message_dispatch_due()
            time.sleep(0.2)
        assert worker.process is not None and worker.process.poll() is None
        assert "campaigns.render_failed" in worker.output()
    finally:
        worker.stop()


@pytest.mark.parametrize(
    "document",
    [
        '<a href="x">' * 80_000,  # unclosed links: 800 of them took 18 s before
        '<a href="' * 100_000,
        "<" * 1_000_000,
        "<title>" * 140_000,
        "<!--" * 250_000,
    ],
)
def test_plain_text_and_links_of_hostile_html_take_linear_time(document):
    """The plain-text part and link tracking run on every rendered message (up to the
    1,000,000-character output bound), outside the render budget."""
    started = time.monotonic()
    html_to_text(document)
    rewrite_links(document, lambda index: f"https://t.example/{index}")
    assert time.monotonic() - started < 3


def test_links_are_still_found_and_rewritten():
    document = (
        '<p>Read <a class="x" href="https://example.com/a?b=1&amp;c=2">this</a> and '
        "<A HREF='http://example.com/it'>that</A> <a href=\"mailto:x@example.com\">mail</a>"
        ' <a href="#top">top</a></p>'
    )
    assert html_to_text(document) == (
        "Read this (https://example.com/a?b=1&c=2) and that (http://example.com/it) "
        "mail (mailto:x@example.com) top"
    )
    rewritten, links = rewrite_links(document, lambda index: f"https://t.example/{index}")
    assert links == ["https://example.com/a?b=1&c=2", "http://example.com/it"]
    assert 'href="https://t.example/0"' in rewritten and "HREF='https://t.example/1'" in rewritten
