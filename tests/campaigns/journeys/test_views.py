"""Dashboard: the journey list with headline numbers, the builder's flow with per-step
counts, the form (errors by path), live edits with `move_removed_to`, actions."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from messaging.models import Message, Origin
from tests.campaigns.journeys.helpers import advance, enrolment, journey, step, where
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Welcome",
    "trigger_kind": "manual",
    "goal_kind": "",
    "goal_days": "7",
    "reentry": "once",
    "reentry_days": "0",
    "holdout_percent": "0",
    "exit_on_unsubscribe": "on",
}


def branching(tpl_pk: int) -> list[dict]:
    return [
        step("hello", "send_email", template_id=tpl_pk, next="q"),
        step("q", "branch", rule={"attr": "plan", "op": "eq", "value": "pro"}, yes="pro", no="nap"),
        step("pro", "send_email", template_id=tpl_pk, next="bye"),
        step("nap", "wait", duration={"days": 2}, next="bye"),
        step("bye", "exit"),
    ]


def boxes(page: str) -> list[str]:
    return re.findall(r'data-step="([a-z0-9_-]+)"', page)


def canvas(page: str) -> dict:
    """The JSON island the canvas (journey-canvas.js) draws from."""
    found = re.search(
        r'<script id="journey-canvas-data" type="application/json">(.*?)</script>', page
    )
    assert found, "no canvas on the page"
    return json.loads(found.group(1))


def count(page: str, key: str, name: str) -> int:
    box = page[page.index(f'data-step="{key}"') :]
    return int(re.search(rf'data-count="{name}">(\d+)<', box).group(1))  # type: ignore[union-attr]


def test_list_shows_trigger_status_and_numbers(owner, ws, django_assert_max_num_queries):
    tpl = email_template(ws)
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)], name="Hi")
    journey(ws, {"kind": "event", "event": "cart_abandoned"}, [step("x", "exit")], name="Cart")
    journey(ws, {"kind": "manual"}, [step("x", "exit")], name="Draft one", live=False)
    contacts = ContactFactory.create_batch(3, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    advance()
    with django_assert_max_num_queries(10):
        page = owner.web.get(f"/w/{ws.slug}/journeys/").content.decode()
    assert "Performs “cart_abandoned”" in page and "Added by the API or by hand" in page
    assert "Draft" in page and "Live" in page and "New journey" in page
    row = page[page.index(">Hi</a>") :].split("</tr>")[0]
    assert re.findall(r'class="num">(\d+)<', row) == ["3", "0", "0"]  # entered, active, converted
    assert 'href="/w/acme/journeys/"' in owner.web.get(f"/w/{ws.slug}/campaigns/").content.decode()


def test_builder_draws_the_flow_with_branches_and_counts(
    owner, teammate, ws, django_assert_max_num_queries
):
    tpl = email_template(ws)
    j = journey(ws, {"kind": "manual"}, branching(tpl.pk))
    pro = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    free = ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    enrol_api(j, [pro.pk, free.pk])
    advance()
    assert where(j, pro) == "exited:exit step" and where(j, free) == "nap"
    # Who cannot edit reads the flow drawn by the server; the editor gets the canvas.
    with django_assert_max_num_queries(20):
        page = teammate.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert 'id="journey-canvas-data"' not in page
    # Top to bottom, the branch's outcomes side by side, joined again at "bye".
    assert boxes(page) == ["hello", "q", "pro", "nap", "bye"]
    fork = page[page.index('data-step="q"') : page.index('data-step="bye"')]
    assert "jflow-fork" in fork and "<strong>yes</strong>" in fork and "<strong>no</strong>" in fork
    assert "if plan is pro" in page and "for 2 days" in page and "Template “Welcome”" in page
    assert count(page, "hello", "entered") == 2 and count(page, "hello", "sent") == 0
    assert 'data-count="open_rate">\u2013<' in page
    assert count(page, "nap", "waiting") == 1 and count(page, "bye", "exited") == 1
    assert 'data-total="entered">2<' in page and 'data-total="active">1<' in page
    # 24: the loyalty tiers and rewards pickers are two queries of their own.
    with django_assert_max_num_queries(24):
        page = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert "Pause" in page and "Cancel journey" in page and "move_removed_to" in page
    assert boxes(page) == [] and 'id="journey-canvas"' in page
    data = canvas(page)
    assert [s["key"] for s in data["steps"]] == ["hello", "q", "pro", "nap", "bye"]
    assert data["steps"][1]["config"]["yes"] == "pro"
    assert data["numbers"]["hello"] == {
        "entered": 2,
        "waiting": 0,
        "exited": 0,
        "converted": 0,
        "sent": 0,
        "open_rate": None,
        "click_rate": None,
    }
    assert data["numbers"]["nap"]["waiting"] == 1 and data["numbers"]["bye"]["exited"] == 1
    assert data["templates"] == [
        {"id": tpl.pk, "name": "Welcome", "channel": "email", "url": f"/w/acme/templates/{tpl.pk}/"}
    ]
    assert data["impact_url"] == f"/w/acme/journeys/{j.pk}/impact/" and data["errors"] == {}


def test_create_via_the_form_shows_errors_by_path(owner, ws):
    tpl = email_template(ws)
    bad = [step("hello", "send_email", template_id=999999, next="w"), step("w", "wait")]
    response = owner.web.post(f"/w/{ws.slug}/journeys/new/", {**FORM, "steps": json.dumps(bad)})
    assert response.status_code == 200
    page = response.content.decode()
    assert "steps[0].config.template_id: no such template in this workspace" in page
    assert "steps[1].config.duration:" in page
    # The canvas gets the steps as posted and the errors by path, to put on each step.
    data = canvas(page)
    assert [s["key"] for s in data["steps"]] == ["hello", "w"]
    assert data["errors"]["steps[0].config.template_id"] == ["no such template in this workspace"]
    assert "steps[1].config.duration" in data["errors"] and data["impact_url"] == ""
    assert not Journey.objects.filter(workspace=ws).exists()
    broken = owner.web.post(f"/w/{ws.slug}/journeys/new/", {**FORM, "steps": "[{"})
    assert "steps: is not valid JSON (line 1" in broken.content.decode()
    good = [step("hello", "send_email", template_id=tpl.pk)]
    response = owner.web.post(
        f"/w/{ws.slug}/journeys/new/",
        {
            **FORM,
            "trigger_kind": "event",
            "trigger_event": "signup",
            "trigger_properties": '{"plan": "pro"}',
            "goal_kind": "event",
            "goal_event": "purchase",
            "steps": json.dumps(good),
        },
    )
    assert response.status_code == 302
    created = Journey.objects.get(workspace=ws, name="Welcome")
    assert created.trigger == {"kind": "event", "event": "signup", "properties": {"plan": "pro"}}
    assert created.goal == {"event": {"name": "purchase"}} and created.status == "draft"
    page = owner.web.get(response["Location"]).content.decode()
    assert "Go live" in page and "Performs “signup” where plan = pro" in page


def test_editing_a_live_journey_moves_contacts_on_removed_steps(owner, ws):
    tpl = email_template(ws)
    steps = [
        step("hello", "send_email", template_id=tpl.pk, next="wait"),
        step("wait", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=tpl.pk),
    ]
    j = journey(ws, {"kind": "manual"}, steps)
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    assert where(j, c) == "wait"
    editor = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert "Contacts already inside keep their place" in editor
    assert '<option value="tip"' in editor
    without_wait = [steps[0] | {"config": {"template_id": tpl.pk, "next": "tip"}}, steps[2]]
    response = owner.web.post(
        f"/w/{ws.slug}/journeys/{j.pk}/",
        {**FORM, "name": "J", "steps": json.dumps(without_wait), "move_removed_to": "tip"},
        follow=True,
    )
    assert "1 moved, 0 taken out" in response.content.decode()
    assert where(j, c) == "tip" and enrolment(j, c).exit_reason == ""
    page = response.content.decode()
    assert [s["key"] for s in canvas(page)["steps"]] == ["hello", "tip"]
    assert "Removed steps" in page


def test_actions_and_adding_contacts(owner, ws):
    tpl = email_template(ws)
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)], live=False)
    web, base = owner.web, f"/w/{ws.slug}/journeys/{j.pk}"
    web.post(f"{base}/schedule/")
    j.refresh_from_db()
    assert j.status == "live"
    ada = ContactFactory.create(workspace=ws, email="ada@example.com")
    bob = ContactFactory.create(workspace=ws)
    response = web.post(
        f"{base}/add-contacts/",
        {"contacts": f"ADA@example.com, {bob.pk}\nnobody@x.test"},
        follow=True,
    )
    assert "2 contacts entered the journey; 1 not found." in response.content.decode()
    assert {where(j, ada), where(j, bob)} == {None}
    web.post(f"{base}/pause/")
    j.refresh_from_db()
    assert j.status == "paused"
    web.post(f"{base}/resume/")
    j.refresh_from_db()
    assert j.status == "live"
    web.post(f"{base}/cancel/")
    j.refresh_from_db()
    assert j.status == "cancelled"
    page = web.get(base + "/").content.decode()
    assert 'id="journey-form"' not in page and "Cancel journey" not in page
    again = web.post(f"{base}/resume/", follow=True).content.decode()
    assert "This journey is cancelled" in again


def test_viewer_reads_only_and_outsider_gets_404(owner, teammate, outsider, ws):
    tpl = email_template(ws)
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)], live=False)
    page = teammate.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert 'data-step="s"' in page and 'id="journey-form"' not in page and "Go live" not in page
    assert teammate.web.post(f"/w/{ws.slug}/journeys/{j.pk}/schedule/").status_code == 403
    assert teammate.web.post(f"/w/{ws.slug}/journeys/new/", FORM).status_code == 403
    # The outsider cannot reach it, neither in this workspace nor through its own.
    assert outsider.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").status_code == 404
    own = f"/w/{outsider.workspace.slug}/journeys/{j.pk}"
    assert outsider.web.get(own + "/").status_code == 404
    assert outsider.web.post(own + "/cancel/").status_code == 404
    assert outsider.web.post(own + "/add-contacts/", {"contacts": "1"}).status_code == 404
    j.refresh_from_db()
    assert j.status == "draft"


def test_impact_counts_the_contacts_each_change_affects(owner, teammate, outsider, ws):
    tpl = email_template(ws)
    steps = [
        step("hello", "send_email", template_id=tpl.pk, next="wait"),
        step("wait", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=tpl.pk),
    ]
    j = journey(ws, {"kind": "manual"}, steps, goal={"event": {"name": "purchase"}})
    contacts = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    advance()
    url = f"/w/{ws.slug}/journeys/{j.pk}/impact/"
    edited = [
        steps[0] | {"config": {"template_id": tpl.pk, "next": "tip"}},
        steps[2] | {"config": {"template_id": tpl.pk, "best_time": True}},
        step("new", "exit"),
    ]
    form = {
        **FORM,
        "name": "J",
        "goal_kind": "event",
        "goal_event": "purchase",
        "steps": json.dumps(edited),
        "move_removed_to": "tip",
    }
    impact = owner.web.post(url, form).json()
    assert impact == {
        "inside": 2,
        "steps": [
            {"key": "hello", "name": "", "kind": "send_email", "change": "changed", "contacts": 0},
            {"key": "wait", "name": "", "kind": "wait", "change": "removed", "contacts": 2},
            {"key": "tip", "name": "", "kind": "send_email", "change": "changed", "contacts": 0},
            {"key": "new", "name": "", "kind": "exit", "change": "added", "contacts": 0},
        ],
        "trigger_changed": False,
        "goal_changed": False,
        "exit_changed": False,
        "move_removed_to": "tip",
    }
    same = owner.web.post(url, {**form, "steps": json.dumps(steps), "goal_kind": ""}).json()
    assert same["steps"] == [] and same["goal_changed"] is True
    # Nothing was saved; bad input is counted as far as it goes, never a 500.
    j.refresh_from_db()
    assert j.version == 1 and j.steps.filter(removed_at__isnull=True).count() == 3
    broken = owner.web.post(url, {**form, "steps": "[{"})
    assert broken.status_code == 200 and broken.json()["steps"] == []
    assert owner.web.get(url).status_code == 405
    assert teammate.web.post(url, form).status_code == 403
    assert outsider.web.post(url, form).status_code == 404


def test_the_canvas_gets_each_variants_sends_and_rates(owner, teammate, ws):
    a, b = email_template(ws, name="A"), email_template(ws, name="B")
    variants = [
        {"label": "A", "template_id": a.pk, "weight": 1},
        {"label": "B", "template_id": b.pk, "weight": 1},
    ]
    j = journey(ws, {"kind": "manual"}, [step("ab", "send_email", variants=variants)])
    contacts = ContactFactory.create_batch(4, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    advance()
    sent = Message.objects.filter(workspace=ws, origin_kind=Origin.JOURNEY_STEP)
    assert sent.count() == 4
    now = timezone.now()
    sent.update(sent_at=now)
    first_a = sent.filter(template=a).order_by("pk").first()
    assert first_a is not None
    Message.objects.filter(pk=first_a.pk).update(opened_at=now, clicked_at=now)
    numbers = canvas(owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode())["numbers"]
    assert numbers["ab"]["assigned"] == {"A": 2, "B": 2}
    assert numbers["ab"]["sent"] == 4 and numbers["ab"]["open_rate"] == 0.25
    assert numbers["ab"]["templates"] == {
        str(a.pk): {"sent": 2, "open_rate": 0.5, "click_rate": 0.5},
        str(b.pk): {"sent": 2, "open_rate": 0.0, "click_rate": 0.0},
    }
    # The flow a viewer reads shows the step's rates too.
    page = teammate.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    assert 'data-count="open_rate">25%<' in page and 'data-count="click_rate">25%<' in page
