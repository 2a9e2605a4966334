"""The referral dashboard pages (settings for admins, the review queue for marketers,
viewers read) and the public landing page (records the visit, sets no cookie, escapes
what it shows); the rule conditions on referrals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.rules import Scope, contacts_matching, validate_rule
from loyalty.models import Referral, ReferralSettings, ReferralStatus, ReferralVisit
from loyalty.services.referrals import referral_code_ensure, referral_settings_update
from tests.factories import ContactFactory, WorkspaceFactory
from tests.loyalty.helpers import ACTOR, ingest, purchase

pytestmark = pytest.mark.django_db


def _on(ws, **data):
    return referral_settings_update(workspace=ws, data={"enabled": True, **data}, actor=ACTOR)


def test_settings_form_saves_and_shows_errors_by_field(ws, owner, teammate):
    url = f"/w/{ws.slug}/settings/referrals/"
    page = owner.web.get(url)
    assert page.status_code == 200 and b"Referral programme" in page.content
    saved = owner.web.post(
        url,
        {
            "enabled": "on",
            "signup_url": "https://shop.example/join",
            "qualifying_event": "",
            "min_amount": "20",
            "within_days": "90",
            "referrer_points": "500",
            "friend_points": "250",
            "referrer_reward_id": "",
            "friend_reward_id": "",
            "hold_days": "14",
            "monthly_limit": "",
        },
    )
    assert saved.status_code == 302
    row = ReferralSettings.objects.get(workspace=ws)
    assert row.enabled and row.within_days == 90 and row.monthly_limit is None
    assert row.referrer_points == 500 and str(row.min_amount) == "20.00"
    bad = owner.web.post(url, {"enabled": "on", "min_amount": "lots", "hold_days": "14"})
    assert bad.status_code == 200 and "min_amount" in bad.context["errors"]
    assert teammate.web.post(url, {"enabled": "on"}).status_code == 403


def test_review_queue_approve_and_reject(ws, owner, teammate):
    _on(ws)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com", first_name="<b>Ann</b>")
    code = referral_code_ensure(contact=ann)
    assert code is not None
    for email in ("ann+1@example.com", "ann+2@example.com"):
        owner.api.post(
            "/api/v1/contacts/", {"email": email, "referred_by": code.code}, format="json"
        )
    first, second = Referral.objects.order_by("id")
    page = owner.web.get(f"/w/{ws.slug}/referrals/review/")
    assert page.status_code == 200
    assert b"self_referral" in page.content and b"<b>Ann</b>" not in page.content
    assert b"Approve" in page.content
    assert b"Approve" not in teammate.web.get(f"/w/{ws.slug}/referrals/review/").content
    assert teammate.web.post(f"/w/{ws.slug}/referrals/{first.pk}/approve/").status_code == 403
    owner.web.post(f"/w/{ws.slug}/referrals/{first.pk}/approve/")
    owner.web.post(f"/w/{ws.slug}/referrals/{second.pk}/reject/")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ReferralStatus.PENDING and second.status == ReferralStatus.REJECTED


def test_outsider_cannot_see_or_decide(ws, owner, outsider):
    _on(ws)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    code = referral_code_ensure(contact=ann)
    assert code is not None
    owner.api.post(
        "/api/v1/contacts/", {"email": "ann+1@example.com", "referred_by": code.code}, format="json"
    )
    referral = Referral.objects.get()
    assert outsider.web.get(f"/w/{ws.slug}/referrals/review/").status_code == 404
    mine = f"/w/{outsider.workspace.slug}/referrals/{referral.pk}/approve/"
    assert outsider.web.post(mine).status_code == 404
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.FLAGGED


def test_landing_page_records_the_visit_without_a_cookie(ws, client):
    _on(ws)
    ann = ContactFactory.create(workspace=ws, first_name="<script>x</script>")
    code = referral_code_ensure(contact=ann)
    assert code is not None
    page = client.get(f"/r/{ws.pk}/{code.code.lower()}/", REMOTE_ADDR="192.0.2.1")
    assert page.status_code == 200 and not page.cookies
    assert b"<script>x</script>" not in page.content and b"&lt;script&gt;" in page.content
    assert code.code.encode() in page.content  # no signup address: the code to type
    visit = ReferralVisit.objects.get()
    assert visit.ip_hash and visit.ip_hash != "192.0.2.1"
    preview = client.get(f"/r/{code.code}/", HTTP_USER_AGENT="Slackbot-LinkExpanding 1.0")
    assert preview.status_code == 200 and ReferralVisit.objects.count() == 1  # an old link
    assert client.get("/r/NOSUCHCODE/").status_code == 404
    # The link names its workspace: under another workspace's id the code is unknown.
    other = WorkspaceFactory.create()
    assert client.get(f"/r/{other.pk}/{code.code}/").status_code == 404
    _on(ws, enabled=False)
    assert client.get(f"/r/{code.code}/").status_code == 404


def _converted(ws, api, referrer, email, days_ago):
    code = referral_code_ensure(contact=referrer)
    assert code is not None
    api.post("/api/v1/contacts/", {"email": email, "referred_by": code.code}, format="json")
    referral = Referral.objects.get(referred__email=email)
    ingest(ws, purchase(referral.referred, "30"))
    Referral.objects.filter(pk=referral.pk).update(
        converted_at=timezone.now() - dt.timedelta(days=days_ago)
    )


def test_rule_conditions_on_referrals(ws, api, outsider):
    _on(ws)
    advocate = ContactFactory.create(workspace=ws)
    once = ContactFactory.create(workspace=ws)
    old = ContactFactory.create(workspace=ws)
    _converted(ws, api, advocate, "a1@example.net", 10)
    _converted(ws, api, advocate, "a2@example.net", 100)
    _converted(ws, api, once, "o1@example.net", 5)
    _converted(ws, api, old, "x1@example.net", 400)
    _converted(ws, api, old, "x2@example.net", 500)
    friends = set(Referral.objects.values_list("referred_id", flat=True))
    everyone = {advocate.pk, once.pk, old.pk} | friends

    def ids(rule, scope=None):
        validate_rule(rule, workspace=ws)
        return set(contacts_matching(rule, workspace=ws, scope=scope).values_list("pk", flat=True))

    two_this_year = {"referrals_converted": {"gte": 2}, "within_days": 365}
    assert ids(two_this_year) == {advocate.pk}
    assert ids({"referrals_converted": {"gte": 2}}) == {advocate.pk, old.pk}
    assert ids({"referrals_sent": {"eq": 1}}) == {once.pk}
    assert ids({"referrals_sent": {"lt": 1}}) == friends
    for contact in everyone:  # one contact at a time, as on an event
        assert ids(two_this_year, Scope.of([contact])) == {advocate.pk} & {contact}
    with pytest.raises(Exception) as bad:  # noqa: PT011 - the rule error type is the API's 400
        validate_rule({"referrals_converted": {"gte": "two"}}, workspace=ws)
    assert "referrals_converted.gte" in str(bad.value.fields)  # type: ignore[attr-defined]


def test_contact_panel_shows_link_counts_and_friends(ws, owner, outsider):
    _on(ws)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    code = referral_code_ensure(contact=ann)
    assert code is not None
    body = {"email": "f@example.net", "first_name": "<i>F</i>", "referred_by": code.code}
    assert owner.api.post("/api/v1/contacts/", body, format="json").status_code == 201
    panel = owner.web.get(f"/w/{ws.slug}/contacts/{ann.pk}/referrals-panel/")
    assert panel.status_code == 200
    assert f"/r/{ws.pk}/{code.code}/".encode() in panel.content
    assert b"1 friend signed up" in panel.content and b"<i>F</i>" not in panel.content
    friend = Referral.objects.get().referred
    theirs = owner.web.get(f"/w/{ws.slug}/contacts/{friend.pk}/referrals-panel/")
    assert b"Referred by" in theirs.content and b"ann@example.com" in theirs.content
    page = owner.web.get(f"/w/{ws.slug}/contacts/{ann.pk}/")
    assert b"referrals-panel" in page.content
    foreign = f"/w/{outsider.workspace.slug}/contacts/{ann.pk}/referrals-panel/"
    assert outsider.web.get(foreign).status_code == 404
