"""Sending domains: a DKIM key per domain, verification by real DNS lookups against
a scripted server on 127.0.0.1, signing with the verified domain's key through a real
SMTP sink (checked by dkimpy against the same DNS server), and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import dkim
import dns.resolver
import pytest
from django.utils import timezone

from messaging import tasks
from messaging.domain_models import DomainStatus, SendingDomain
from messaging.services import domains
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.dns_server import ScriptedDns
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue
from tests.messaging.servers import SmtpSink
from workspaces.models import AuditEntry
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

ACTOR = Actor(system="test")


@pytest.fixture
def dns_server(settings) -> Iterator[ScriptedDns]:
    with ScriptedDns() as server:
        settings.DNS_RESOLVER = server.address
        settings.SPF_INCLUDE = "spf.stagecraft.test"
        yield server


def _verify(domain_id: int) -> SendingDomain:
    checked = domains.sending_domain_verify(domain_id=domain_id, actor=ACTOR)
    assert checked is not None
    return checked


def _publish(server: ScriptedDns, record: SendingDomain, *, spf: str | None = None) -> None:
    server.publish_txt(record.dkim_name, record.dkim_value)
    server.publish_txt(record.domain, spf or "v=spf1 include:spf.stagecraft.test ~all")


def _dnsfunc(server: ScriptedDns) -> Callable[..., bytes | None]:
    """dkimpy's key lookup, asking the scripted server over UDP."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except dns.resolver.NXDOMAIN:
            return None
        return b"".join(answer[0].strings)

    return lookup


def test_domain_gets_its_own_key_never_shown(api, ws):
    response = api.post("/api/v1/settings/domains/", {"domain": "Mail.Shop.Example."})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["domain"] == "mail.shop.example" and body["status"] == "pending"
    record = SendingDomain.objects.get(pk=body["id"])
    assert "PRIVATE KEY" in record.private_key_pem
    dkim_row, spf_row = body["records"]
    assert dkim_row["name"] == f"{record.selector}._domainkey.mail.shop.example"
    assert dkim_row["value"] == f"v=DKIM1; k=rsa; p={record.public_key_b64}"
    assert spf_row["value"] == "v=spf1 include:spf.stagecraft.local ~all"
    raw = response.content.decode() + api.get("/api/v1/settings/domains/").content.decode()
    assert "PRIVATE" not in raw and record.private_key_pem.splitlines()[1] not in raw
    other = api.post("/api/v1/settings/domains/", {"domain": "two.example"}).json()
    assert SendingDomain.objects.get(pk=other["id"]).public_key_b64 != record.public_key_b64
    assert AuditEntry.objects.filter(action="messaging.sending_domain_added").count() == 2


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "Enter a domain name"),
        ("localhost", "full domain name with a dot"),
        ("exa mple.com", "not a valid part"),
        ("-bad.example", "not a valid part"),
        ("https://shop.example/", "domain alone"),
        ("news@shop.example", "domain alone"),
        ("10.0.0.1", "IP address"),
        ("a" * 64 + ".example", "not a valid part"),
    ],
)
def test_bad_domain_names_are_400_with_the_reason(api, value, reason):
    response = api.post("/api/v1/settings/domains/", {"domain": value}, format="json")
    assert response.status_code == 400
    assert reason in response.json()["error"]["fields"]["domain"][0]


def test_the_api_takes_international_names_in_their_ascii_form(api, owner):
    refused = api.post("/api/v1/settings/domains/", {"domain": "bücher.example"})
    assert refused.status_code == 400 and "xn--" in refused.json()["error"]["fields"]["domain"][0]
    taken = api.post("/api/v1/settings/domains/", {"domain": "xn--bcher-kva.example"})
    assert taken.status_code == 201
    # The dashboard takes it as typed and stores the same ASCII form.
    owner.web.post("/w/acme/settings/domains/", {"domain": " Bücher.example "})
    assert SendingDomain.objects.filter(domain="xn--bcher-kva.example").count() == 1


def test_bad_bodies_are_400_and_duplicates_409(api):
    for body in ({}, {"domain": 5}, {"domain": "a.example", "key": "x"}, ["a.example"]):
        response = api.post("/api/v1/settings/domains/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["fields"]
    assert api.post("/api/v1/settings/domains/", {"domain": "a.example"}).status_code == 201
    again = api.post("/api/v1/settings/domains/", {"domain": "A.example"})
    assert again.status_code == 409 and again.json()["error"]["fields"]["domain"]


def test_verification_reports_each_record(api, ws, dns_server):
    record = domains.sending_domain_create(workspace=ws, domain="shop.example", actor=ACTOR)
    url = f"/api/v1/settings/domains/{record.pk}/verify/"
    dkim_row, spf_row = api.post(url).json()["records"]
    assert dkim_row["status"] == "failed"
    assert dkim_row["detail"] == f"No TXT record at {record.dkim_name}."
    assert spf_row["detail"] == "No TXT record at shop.example."
    # A key, but another one; an SPF record without our include.
    dns_server.publish_txt(record.dkim_name, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC")
    dns_server.publish_txt("shop.example", "v=spf1 include:_spf.google.com ~all", "google-x=1")
    body = api.post(url).json()
    assert body["status"] == "failed"
    assert body["records"][0]["detail"].startswith("Record found but the key differs")
    assert "does not contain include:spf.stagecraft.test" in body["records"][1]["detail"]
    # Two SPF records: receivers ignore both.
    dns_server.publish_txt("shop.example", "v=spf1 -all", "v=spf1 include:spf.stagecraft.test -all")
    assert "2 SPF records" in api.post(url).json()["records"][1]["detail"]
    _publish(
        dns_server, record, spf="v=spf1 include:_spf.google.com include:spf.stagecraft.test ~all"
    )
    body = api.post(url).json()
    assert body["status"] == "verified", body
    assert body["records"][0]["detail"] == "DKIM record found and matches."
    assert body["records"][1]["detail"] == "SPF record found and includes spf.stagecraft.test."
    assert body["verified_at"] and body["last_checked_at"]
    assert AuditEntry.objects.filter(action="messaging.sending_domain_verified").count() == 1
    # The record is taken down: the domain fails again and signing stops.
    dns_server.publish_txt(record.dkim_name, "unrelated")
    assert api.post(url).json()["status"] == "failed"
    assert domains.signing_domain_for(workspace_id=ws.pk, from_domain="shop.example") is None


def test_no_answer_in_time_is_a_clear_failure(api, ws, settings):
    # A UDP port with nobody behind it: the lookup times out.
    settings.DNS_RESOLVER = "127.0.0.1:9"
    domains.DNS_TIMEOUT_SECONDS = 0.5
    try:
        record = domains.sending_domain_create(workspace=ws, domain="slow.example", actor=ACTOR)
        checked = _verify(record.pk)
    finally:
        domains.DNS_TIMEOUT_SECONDS = 3.0
    assert checked is not None and checked.status == DomainStatus.FAILED
    assert "did not answer" in checked.dkim_detail or "failed" in checked.dkim_detail


def test_only_one_workspace_can_verify_a_domain(ws, outsider, dns_server):
    ours = domains.sending_domain_create(workspace=ws, domain="shop.example", actor=ACTOR)
    theirs = domains.sending_domain_create(
        workspace=outsider.workspace, domain="shop.example", actor=ACTOR
    )
    _publish(dns_server, ours)
    assert _verify(ours.pk).status == "verified"
    # They publish their own key next to ours: still refused, ours stays verified.
    dns_server.publish_txt(theirs.dkim_name, theirs.dkim_value)
    checked = _verify(theirs.pk)
    assert checked.status == "failed"
    assert checked.dkim_detail == "Another workspace has already verified this domain."
    ours.refresh_from_db()
    assert ours.status == "verified"


def test_sender_settings_over_the_api(api, ws):
    assert api.get("/api/v1/settings/sender/").json() == {
        "from_name": "",
        "from_email": "",
        "reply_to": "",
        "sms_from_number": "",
        "sms_help_text": "Reply STOP to unsubscribe. Msg&data rates may apply.",
    }
    changed = api.patch(
        "/api/v1/settings/sender/",
        {"from_name": "Shop", "reply_to": "Help@Shop.example", "sms_from_number": "+14155550123"},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["reply_to"] == "help@shop.example"
    assert api.get("/api/v1/settings/sender/").json()["sms_from_number"] == "+14155550123"
    assert AuditEntry.objects.filter(action="messaging.sender_settings_changed").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_email": "not-an-address"}, "from_email"),
        ({"reply_to": "a@"}, "reply_to"),
        ({"sms_from_number": "0155 5501"}, "sms_from_number"),
        ({"sms_from_number": "+1"}, "sms_from_number"),
        ({"from_name": "x" * 201}, "from_name"),
        ({"from_name": 3}, "from_name"),
        ({"from_name": "a\r\nBcc: x@evil.example"}, "from_name"),
        ({"dkim_key": "x"}, "dkim_key"),
    ],
)
def test_bad_sender_settings_are_400(api, body, field):
    response = api.patch("/api/v1/settings/sender/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_an_sms_number_belongs_to_one_workspace(api, outsider_api):
    number = {"sms_from_number": "+14155550123"}
    assert api.patch("/api/v1/settings/sender/", number, format="json").status_code == 200
    taken = outsider_api.patch("/api/v1/settings/sender/", number, format="json")
    assert taken.status_code == 409 and "sms_from_number" in taken.json()["error"]["fields"]


def test_outsider_gets_404s(api, ws, outsider_api):
    record = domains.sending_domain_create(workspace=ws, domain="shop.example", actor=ACTOR)
    for method in ("get", "delete"):
        response = getattr(outsider_api, method)(f"/api/v1/settings/domains/{record.pk}/")
        assert response.status_code == 404
    assert outsider_api.post(f"/api/v1/settings/domains/{record.pk}/verify/").status_code == 404
    assert outsider_api.get("/api/v1/settings/domains/").json() == {"results": []}
    assert api.delete(f"/api/v1/settings/domains/{record.pk}/").status_code == 204
    assert not SendingDomain.objects.exists()


def _send(ws, settings, **template: str) -> bytes:
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    name = template.get("name", "Welcome")
    enqueue(
        [ContactFactory.create(workspace=ws, email=f"{name.lower()}@example.com")],
        email_template(ws, **template),
        prefix=name,
    )
    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        assert messages_send(claims=messages_claim(limit=10))["sent"] == 1
    [raw] = sink.raw
    return raw


def _signature(raw: bytes) -> bytes:
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.startswith(b"DKIM-Signature:")
    return b"".join(headers.split(b"DKIM-Signature:", 1)[1].split(b"\r\n")[:8])


def test_mail_from_a_verified_domain_is_signed_with_its_key(ws, settings, dns_server):
    settings.DKIM_DOMAIN = ""
    record = domains.sending_domain_create(workspace=ws, domain="shop.example", actor=ACTOR)
    _publish(dns_server, record)
    assert _verify(record.pk).status == "verified"
    # A subdomain of the verified domain aligns (relaxed): signed with d=shop.example.
    raw = _send(ws, settings, from_email="news@mail.shop.example")
    signature = _signature(raw)
    assert b"d=shop.example" in signature and f"s={record.selector}".encode() in signature
    assert dkim.verify(raw, dnsfunc=_dnsfunc(dns_server))
    # Taken down from DNS: a receiver can no longer verify it.
    dns_server.publish_txt(record.dkim_name, "v=DKIM1; k=rsa; p=")
    assert not dkim.verify(raw, dnsfunc=_dnsfunc(dns_server))


def test_unverified_domain_falls_back_to_the_default(ws, settings, dns_server):
    record = domains.sending_domain_create(workspace=ws, domain="shop.example", actor=ACTOR)
    settings.DKIM_DOMAIN = ""
    raw = _send(ws, settings, from_email="news@shop.example")
    assert b"DKIM-Signature" not in raw.split(b"\r\n\r\n", 1)[0]
    # With an installation default, that key signs until the domain is verified.
    default = domains.sending_domain_create(workspace=ws, domain="default.test", actor=ACTOR)
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "default.test", default.selector
    settings.DKIM_PRIVATE_KEY = default.private_key_pem
    dns_server.publish_txt(default.dkim_name, default.dkim_value)
    SendingDomain.objects.filter(pk=default.pk).delete()
    raw = _send(ws, settings, name="Second", from_email="news@shop.example")
    assert b"d=default.test" in _signature(raw)
    assert dkim.verify(raw, dnsfunc=_dnsfunc(dns_server))
    assert record.status == "pending"


def test_another_workspaces_verified_domain_does_not_sign_ours(ws, outsider, settings, dns_server):
    settings.DKIM_DOMAIN = ""
    theirs = domains.sending_domain_create(
        workspace=outsider.workspace, domain="shop.example", actor=ACTOR
    )
    _publish(dns_server, theirs)
    assert _verify(theirs.pk).status == "verified"
    raw = _send(ws, settings, from_email="news@shop.example")
    assert b"DKIM-Signature" not in raw.split(b"\r\n\r\n", 1)[0]


def test_reply_to_comes_from_the_workspace_unless_the_template_has_one(api, ws, settings):
    api.patch("/api/v1/settings/sender/", {"reply_to": "help@shop.example"}, format="json")
    settings.DKIM_DOMAIN = ""
    raw = _send(ws, settings)
    assert b"\r\nReply-To: help@shop.example\r\n" in raw
    raw = _send(ws, settings, name="Own", reply_to="team@shop.example")
    assert b"\r\nReply-To: team@shop.example\r\n" in raw


def test_beat_rechecks_unverified_domains_and_the_task_takes_an_id(ws, dns_server, monkeypatch):
    published: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks, "publish", lambda name, *args: published.append((name, *args)))
    fresh = domains.sending_domain_create(workspace=ws, domain="fresh.example", actor=ACTOR)
    old = domains.sending_domain_create(workspace=ws, domain="old.example", actor=ACTOR)
    SendingDomain.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    assert tasks.sending_domains_check_due() == 1
    assert published == [("messaging.sending_domain_verify", fresh.pk)]
    _publish(dns_server, fresh)
    assert tasks.sending_domain_verify(fresh.pk) == "verified"
    assert tasks.sending_domain_verify(fresh.pk) == "verified"  # safe to run twice
    # Verified, or checked in the last five minutes: not due.
    assert tasks.sending_domains_check_due() == 0
    assert tasks.sending_domain_verify(10**9) is None
    entry = AuditEntry.objects.get(action="messaging.sending_domain_verified")
    assert entry.object_id == fresh.pk and entry.actor_user is None
