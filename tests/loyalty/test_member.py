"""The member page (signed link, no login: balance, tier and the way to the next,
history, redeeming with CSRF and a key drawn with the page) and the message variables
(balance, tier, member link, a reward's code given once per message)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction
from django.test import Client

from loyalty import tokens
from loyalty.models import EntryKind, Redemption, RewardCode, SourceKind
from loyalty.services import (
    balance_lock,
    entry_append,
    reward_codes_add,
    reward_create,
    tier_create,
)
from messaging.models import Message
from messaging.personalisation import contact_context
from messaging.sandbox import TemplateError
from messaging.services import message_enqueue
from messaging.services.outgoing import messages_render
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, balance, ingest, programme, purchase
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(ws):
    programme(ws)
    tier_create(
        workspace=ws,
        data={"name": "Silver", "threshold": 100, "benefits": "Free returns"},
        actor=ACTOR,
    )
    tier_create(workspace=ws, data={"name": "Gold", "threshold": 500}, actor=ACTOR)
    contact = ContactFactory.create(workspace=ws, first_name="Ada <b>")
    ingest(ws, purchase(contact, "150", properties={"order_id": "A"}))
    return contact


def _path(contact) -> str:
    return tokens.member_path(workspace_id=contact.workspace_id, contact_id=contact.pk)


def _reward(ws, cost=100, codes=("GIFT-1", "GIFT-2")):
    reward = reward_create(
        workspace=ws,
        data={"name": "10% off", "kind": "discount_code", "points_cost": cost},
        actor=ACTOR,
    )
    if codes:
        reward_codes_add(reward=reward, data={"codes": list(codes)}, actor=ACTOR)
    return reward


def test_the_page_shows_points_tier_progress_and_history(member):
    page = Client().get(_path(member))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="balance">150<' in html
    assert 'data-testid="tier">Silver<' in html and "Free returns" in html
    assert "350 points to Gold" in html
    assert "Ada &lt;b&gt;" in html and "Ada <b>" not in html
    assert "purchase" in html and "+150" in html
    assert "{% block" not in html  # the referral slot is an empty block


def test_a_bad_or_forged_token_is_a_404(member, outsider):
    assert Client().get("/m/l/nonsense/").status_code == 404
    token = tokens.member_token(workspace_id=member.workspace_id, contact_id=member.pk)
    forged = token.replace(f"{member.workspace_id}.{member.pk}", f"{member.workspace_id}.1", 1)
    assert Client().get(f"/m/l/{forged}/").status_code == 404
    # A contact id signed with another workspace's id names nobody.
    other = tokens.member_path(workspace_id=outsider.workspace.pk, contact_id=member.pk)
    assert Client().get(other).status_code == 404


def test_redeeming_needs_csrf_and_a_double_tap_redeems_once(member):
    reward = _reward(member.workspace)
    browser = Client(enforce_csrf_checks=True)
    html = browser.get(_path(member)).content.decode()
    found = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    assert found is not None
    key = found.group(1)
    form = {"reward_id": str(reward.pk), "idempotency_key": key}
    assert browser.post(_path(member) + "redeem/", form).status_code == 403  # no CSRF token
    form["csrfmiddlewaretoken"] = browser.cookies["csrftoken"].value
    first = browser.post(_path(member) + "redeem/", form)
    assert first.status_code == 303
    again = browser.post(_path(member) + "redeem/", form)
    assert again["Location"] == first["Location"]
    assert Redemption.objects.filter(contact=member).count() == 1
    assert balance(member) == 50
    shown = browser.get(first["Location"]).content.decode()
    assert 'data-testid="code">GIFT-1<' in shown and 'data-testid="balance">50<' in shown


def test_not_enough_points_is_said_on_the_page(member):
    reward = _reward(member.workspace, cost=1000)
    browser = Client()
    response = browser.post(
        _path(member) + "redeem/", {"reward_id": str(reward.pk), "idempotency_key": "k"}
    )
    assert response.status_code == 409
    assert "more than the balance (150)" in response.content.decode()
    assert balance(member) == 150


def _message(contact, template) -> Message:
    message = message_enqueue(
        contact=contact, template=template, idempotency_key=f"m:{contact.pk}:{template.pk}"
    ).message
    Message.objects.filter(pk=message.pk).update(status="sending")
    return Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)


def test_message_variables_and_a_code_given_once_per_message(member):
    reward = _reward(member.workspace)
    body = (
        "<p>{{ loyalty.balance }} points, {{ loyalty.tier }}, "
        "{{ loyalty.points_to_next_tier }} to {{ loyalty.next_tier }}</p>"
        f"<p>Code {{{{ reward_{reward.pk}_code }}}}</p>"
        '<a href="{{ loyalty.member_url }}">Me</a>'
    )
    template = email_template(member.workspace, body=body)
    message = _message(member, template)
    messages_render([message])
    message.refresh_from_db()
    assert "150 points, Silver, 350 to Gold" in message.body_html
    assert "Code GIFT-1" in message.body_html
    assert _path(member) in message.body_html
    # Rendered again (a retry), the message keeps its code; another message gets the next.
    context = contact_context(
        contact=member, workspace=member.workspace, message_id=message.pk, template=template
    )
    assert context[f"reward_{reward.pk}_code"] == "GIFT-1"
    second = contact_context(
        contact=member, workspace=member.workspace, message_id=message.pk + 1, template=template
    )
    assert second[f"reward_{reward.pk}_code"] == "GIFT-2"
    code = RewardCode.objects.get(code="GIFT-1")
    assert code.contact_id == member.pk and code.message_key == f"message:{message.pk}:{reward.pk}"
    # A preview takes nothing.
    preview = contact_context(contact=member, workspace=member.workspace, template=template)
    assert preview[f"reward_{reward.pk}_code"] == "PREVIEW-CODE"
    assert RewardCode.objects.filter(issued_at__isnull=True).count() == 0


def test_an_empty_pool_fails_the_message_alone_with_the_reason(member):
    reward = _reward(member.workspace, codes=())
    template = email_template(member.workspace, body=f"<p>{{{{ reward_{reward.pk}_code }}}}</p>")
    message = _message(member, template)
    with pytest.raises(TemplateError):
        contact_context(
            contact=member, workspace=member.workspace, message_id=message.pk, template=template
        )
    messages_render([message])
    message.refresh_from_db()
    assert message.status == "failed" and "no codes left" in message.status_reason


def test_the_contact_page_panel_shows_points_and_tier(member, owner, outsider, ws):
    url = f"/w/{ws.slug}/contacts/{member.pk}/loyalty-panel/"
    html = owner.web.get(url).content.decode()
    assert 'data-testid="contact-points">150<' in html and "Silver" in html
    assert "350 points to Gold" in html and _path(member) in html
    page = owner.web.get(f"/w/{ws.slug}/contacts/{member.pk}/").content.decode()
    assert "loyalty-panel" in page
    theirs = f"/w/{outsider.workspace.slug}/contacts/{member.pk}/loyalty-panel/"
    assert outsider.web.get(theirs).status_code == 404


def test_the_page_tells_the_day_the_points_expire_in_the_contacts_zone(ws):
    prog = programme(ws, expiry_months=12)
    prog.expiry_from = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # on since before the activity
    prog.save(update_fields=["expiry_from"])
    contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=ws.pk, contact_id=contact.pk),
            kind=EntryKind.EARN,
            points=40,
            idempotency_key="a",
            source_kind=SourceKind.SYSTEM,
            # 23:30 UTC on 10 March is 11 March in Tokyo: the last day is 11 March 2027.
            occurred_at=dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC),
        )
    html = Client().get(_path(contact)).content.decode()
    assert "They expire on 11 Mar 2027" in html
    template = email_template(
        ws, body="<p>{{ loyalty.balance }} points until {{ loyalty.expires_on }}</p>"
    )
    context = contact_context(contact=contact, workspace=ws, message_id=1, template=template)
    assert context["loyalty"]["expires_on"] == "2027-03-11"
