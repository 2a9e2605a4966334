"""The SSRF guard of outgoing calls to user-given URLs (config/outbound.py) and the
journey webhook step that uses it: every non-public range is refused, the host is
resolved once and the connection goes to the address that was checked (a real DNS
server on 127.0.0.1 plays the rebinding attacker), TLS is verified against the name,
and the answer is bounded in size and time.

In these tests 127.0.0.1 stands for "a public address" (test settings allow exactly
127.0.0.1/32) and 127.0.0.2, loopback too but not allowed, for "a private one"."""

from __future__ import annotations

import ipaddress
import ssl
import time
from typing import Any

import pytest
import trustme

from campaigns.journeys.triggers import enrol_api
from config import outbound
from config.errors import InvalidInput
from tests.campaigns.journeys.helpers import advance, enrolment, journey, step
from tests.dns_server import ScriptedDns
from tests.factories import ContactFactory
from tests.http_stub import Answer, HttpStub, Request

pytestmark = pytest.mark.django_db

REFUSED = [
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "100.100.100.200",  # a cloud metadata service in carrier-grade NAT space
    "100.127.255.254",
    "127.0.0.2",
    "169.254.169.254",
    "172.16.0.1",
    "192.0.0.170",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",
    "100::1",
    "2001::1",  # Teredo
    "2001:db8::1",
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:0808:0808::1",  # 6to4 of a public address: refused all the same
    "fc00::1",
    "fd00:ec2::254",  # AWS's IPv6 metadata service
    "fe80::1",
    "fec0::1",
    "ff02::1",
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "100.128.0.1", "100.63.255.255", "2606:4700::1111"]


@pytest.fixture
def strict(settings: Any) -> Any:
    """Production's policy: no network allowed besides public ones."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.JOURNEY_WEBHOOK_ALLOW_PRIVATE = False  # the switch this replaced
    return settings


@pytest.mark.parametrize("address", REFUSED)
def test_every_non_public_range_is_refused(strict, address):
    assert outbound.address_refusal(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    assert "private or internal" in outbound.url_error(f"http://{host}/hook")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(strict, address):
    assert outbound.address_refusal(ipaddress.ip_address(address)) == ""


@pytest.mark.parametrize(
    "url",
    ["http://100.100.100.200/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/", "http://224.0.0.1/"],
)
def test_journey_webhook_to_internal_address_is_a_400_naming_the_field(strict, owner, url):
    response = owner.api.post(
        "/api/v1/journeys/",
        {
            "name": "exfiltrate",
            "trigger": {"kind": "manual"},
            "steps": [{"key": "hook", "kind": "webhook", "config": {"url": url}}],
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert "private or internal" in fields["steps[0].config.url"][0]


def test_urls_with_credentials_or_other_schemes_are_refused(strict):
    assert outbound.url_error("ftp://8.8.8.8/") == "must be an http(s) URL"
    assert outbound.url_error("http://user:pw@8.8.8.8/") == "must not carry a user name or password"
    assert outbound.url_error("http://8.8.8.8:99999/") == "must be an http(s) URL"


class Receiver(HttpStub):
    """The test stub bound to one address, answering every request alike; `hosts` are
    the Host headers it was sent."""

    def __init__(
        self,
        address: str,
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        body: bytes = b"",
        delay: float = 0.0,
        status: int = 204,
    ) -> None:
        def answer(request: Request, before: int) -> Answer:
            time.sleep(delay)
            return Answer(status, {"Location": "http://127.0.0.2/"}, body)

        super().__init__(answer, address=address, port=port, tls=tls)

    @property
    def hosts(self) -> list[str]:
        return [r.headers["Host"] for r in self.requests]


@pytest.fixture
def receivers():
    """A receiver on 127.0.0.1 (allowed) and one on 127.0.0.2 (not), same port."""
    good = Receiver("127.0.0.1")
    evil = Receiver("127.0.0.2", good.port)
    yield good, evil
    good.close()
    evil.close()


def test_one_request_resolves_once_and_connects_to_the_checked_address(settings, receivers):
    good, evil = receivers
    with ScriptedDns({"hook.test": ["127.0.0.1", "127.0.0.2"]}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        response = outbound.request("POST", f"http://hook.test:{good.port}/hook", body=b"{}")
        assert dns.resolver.a_queries("hook.test") == 1
    assert response.status == 204 and response.address == "127.0.0.1"
    assert good.hosts == [f"hook.test:{good.port}"]  # the name, not the address
    assert evil.hosts == []


def test_rebinding_between_save_and_send_is_refused(settings, ws, receivers):
    """The journey is saved while the name points at the allowed address; when the
    step runs the DNS server answers the private one: the call is refused and nothing
    reaches the private receiver."""
    good, evil = receivers
    with ScriptedDns({"hook.test": ["127.0.0.1", "127.0.0.2"]}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        j = journey(
            ws, {"kind": "manual"}, [step("hook", "webhook", url=f"http://hook.test:{good.port}/")]
        )
        assert dns.resolver.a_queries("hook.test") == 1
        contact = ContactFactory.create(workspace=ws)
        enrol_api(j, [contact.pk])
        advance()
        assert dns.resolver.a_queries("hook.test") == 2
    assert good.hosts == [] and evil.hosts == []
    assert enrolment(j, contact).attempts == 1  # recorded as a failed call, to retry


def test_webhook_step_reaches_a_name_that_stays_public(settings, ws, receivers):
    good, evil = receivers
    with ScriptedDns({"hook.test": ["127.0.0.1"]}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        j = journey(
            ws, {"kind": "manual"}, [step("hook", "webhook", url=f"http://hook.test:{good.port}/")]
        )
        contact = ContactFactory.create(workspace=ws)
        enrol_api(j, [contact.pk])
        advance()
    assert good.hosts == [f"hook.test:{good.port}"] and evil.hosts == []
    assert enrolment(j, contact).status == "completed"


def test_a_name_with_any_private_address_is_refused_at_save(settings, ws):
    with ScriptedDns({"hook.test": ["127.0.0.2"]}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        with pytest.raises(InvalidInput) as caught:
            journey(ws, {"kind": "manual"}, [step("hook", "webhook", url="http://hook.test/")])
    assert "127.0.0.2" in caught.value.fields["steps[0].config.url"][0]


def test_unknown_name_is_refused(settings):
    with ScriptedDns({}) as dns:
        settings.OUTBOUND_DNS_SERVERS = [dns.address]
        assert outbound.url_error("http://nowhere.test/") == "the host name does not resolve"


@pytest.fixture
def tls_ca(tmp_path):
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, str(bundle)


def test_https_connects_to_the_address_and_verifies_the_name(settings, tls_ca):
    ca, bundle = tls_ca
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.example.test").configure_cert(context)
    server = Receiver("127.0.0.1", tls=context)
    try:
        with ScriptedDns({"hooks.example.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}) as d:
            settings.OUTBOUND_DNS_SERVERS = [d.address]
            settings.OUTBOUND_CA_BUNDLE = bundle
            ok = outbound.request("POST", f"https://hooks.example.test:{server.port}/", body=b"")
            assert ok.status == 204 and ok.address == "127.0.0.1"
            # The same server under a name its certificate does not carry: refused.
            with pytest.raises(outbound.OutboundFailed) as caught:
                outbound.request("POST", f"https://other.test:{server.port}/", body=b"")
            assert "certificate" in caught.value.reason
        assert server.hosts == [f"hooks.example.test:{server.port}"]
    finally:
        server.close()


def test_answers_are_bounded_in_size_and_time_and_redirects_not_followed():
    big = Receiver("127.0.0.1", body=b"x" * 200_000, status=200)
    slow = Receiver("127.0.0.1", delay=3.0)
    redirect = Receiver("127.0.0.1", status=302)
    try:
        with pytest.raises(outbound.OutboundFailed, match="larger than"):
            outbound.request("POST", f"http://127.0.0.1:{big.port}/", max_bytes=100_000)
        started = time.monotonic()
        with pytest.raises(outbound.OutboundFailed, match="within"):
            outbound.request("POST", f"http://127.0.0.1:{slow.port}/", timeout=0.5)
        assert time.monotonic() - started < 2.0
        answer = outbound.request("POST", f"http://127.0.0.1:{redirect.port}/")
        assert answer.status == 302 and answer.headers["Location"] == "http://127.0.0.2/"
    finally:
        for server in (big, slow, redirect):
            server.close()
