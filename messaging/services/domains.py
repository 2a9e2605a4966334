"""Sending domains: adding one (with its own DKIM key), removing it, and verifying
its DNS records with a real lookup.

Verification asks the resolver in settings.DNS_RESOLVER (the system's when empty)
for two TXT records: the DKIM key at `<selector>._domainkey.<domain>`, which must
carry this domain's public key, and the SPF record at the domain, which must include
settings.SPF_INCLUDE. The domain is verified when both are right; only then does
the SMTP provider sign its mail with the domain's key (messaging/providers/smtp.py)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from config.queue import enqueue_on_commit
from messaging.domain_models import DomainStatus, SendingDomain
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

logger = logging.getLogger(__name__)

DNS_TIMEOUT_SECONDS = 3.0
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A domain name as the API takes it (ASCII; an international name in its xn-- form);
# its OpenAPI schema states this same pattern.
_PART = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_PATTERN = f"^{_PART}(?:\\.{_PART})*\\.[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\\.?$"


def domain_name_error(domain: str) -> str:
    """Why `domain` (already lower-cased, IDNA-encoded) is not a domain name; ""."""
    if not domain:
        return "Enter a domain name, such as mail.example.com."
    if len(domain) > 253:
        return "A domain name has at most 253 characters."
    labels = domain.split(".")
    if len(labels) < 2:
        return "Enter a full domain name with a dot, such as example.com."
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        return (
            f"“{bad or '(empty)'}” is not a valid part of a domain name: use letters, "
            "digits and hyphens, not at the start or end."
        )
    if labels[-1].isdigit():
        return "An IP address is not a domain name."
    if not labels[-1][0].isalpha():
        return f"“{labels[-1]}” is not a top-level domain: it starts with a letter."
    return ""


def domain_normalise(raw: str) -> str:
    """`raw` as it is compared and published: trimmed, lower case, no final dot,
    international names in their ASCII (IDNA) form. Raises InvalidInput."""
    domain = raw.strip().lower().rstrip(".")
    if domain.startswith(("http://", "https://")) or "@" in domain or "/" in domain:
        raise InvalidInput(
            "domain: enter the domain alone",
            fields={"domain": ["Enter the domain alone, such as mail.example.com."]},
        )
    try:
        # ASCII names are checked below, label by label, with a clearer reason.
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(
            "domain: not a domain name",
            fields={"domain": ["This is not a valid domain name."]},
        ) from None
    error = domain_name_error(domain)
    if error:
        raise InvalidInput(f"domain: {error}", fields={"domain": [error]})
    return domain


def _new_key() -> tuple[str, str]:
    """(private key PEM, base64 DER public key) of a fresh RSA 2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, base64.b64encode(der).decode()


@transaction.atomic
def sending_domain_create(*, workspace: Workspace, domain: str, actor: Actor) -> SendingDomain:
    name = domain_normalise(domain)
    if SendingDomain.objects.filter(workspace=workspace, domain=name).exists():
        raise Conflict(
            f"{name} is already one of this workspace's domains.",
            fields={"domain": ["This domain is already added."]},
        )
    private, public = _new_key()
    record = SendingDomain(
        workspace=workspace,
        domain=name,
        selector=f"sc{secrets.token_hex(3)}",
        private_key_pem=private,
        public_key_b64=public,
    )
    record.full_clean()
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise Conflict(
            f"{name} is already one of this workspace's domains.",
            fields={"domain": ["This domain is already added."]},
        ) from None
    audit_record(
        workspace=workspace,
        action="messaging.sending_domain_added",
        actor=actor,
        object_type="sending_domain",
        object_id=record.pk,
        details={"domain": name},
    )
    # The records may already be published (a domain added again): check at once.
    enqueue_on_commit("messaging.sending_domain_verify", record.pk)
    return record


@transaction.atomic
def sending_domain_delete(*, record: SendingDomain, actor: Actor) -> None:
    audit_record(
        workspace=record.workspace,
        action="messaging.sending_domain_removed",
        actor=actor,
        object_type="sending_domain",
        object_id=record.pk,
        details={"domain": record.domain},
    )
    record.delete()


@dataclass(frozen=True)
class Check:
    status: str
    detail: str


def _resolver() -> dns.resolver.Resolver:
    if not settings.DNS_RESOLVER:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = settings.DNS_RESOLVER.partition(":")
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, int(port or 53))]
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    resolver.timeout = DNS_TIMEOUT_SECONDS
    return resolver


def txt_records(name: str) -> list[str] | str:
    """The TXT records at `name`, each one's strings joined; or why there are none
    (a sentence for the page)."""
    try:
        answer = _resolver().resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return f"No TXT record at {name}."
    except dns.exception.Timeout:
        return f"The DNS server did not answer for {name} in time; try again later."
    except dns.exception.DNSException as exc:
        return f"The DNS lookup of {name} failed ({type(exc).__name__}); try again later."
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def dkim_check(record: SendingDomain) -> Check:
    found = txt_records(record.dkim_name)
    if isinstance(found, str):
        return Check(DomainStatus.FAILED, found)
    keys = [_tags(txt).get("p") for txt in found if "p" in _tags(txt)]
    if not keys:
        return Check(
            DomainStatus.FAILED,
            f"A TXT record is at {record.dkim_name} but it is not a DKIM key (no p=).",
        )
    if record.public_key_b64 in keys:
        return Check(DomainStatus.VERIFIED, "DKIM record found and matches.")
    return Check(
        DomainStatus.FAILED,
        "Record found but the key differs: publish the value shown here exactly.",
    )


def spf_check(record: SendingDomain) -> Check:
    found = txt_records(record.domain)
    if isinstance(found, str):
        return Check(DomainStatus.FAILED, found)
    spf = [txt for txt in found if txt.lower().split()[:1] == ["v=spf1"]]
    include = f"include:{settings.SPF_INCLUDE}".lower()
    if not spf:
        return Check(DomainStatus.FAILED, f"No SPF record (v=spf1) at {record.domain}.")
    if len(spf) > 1:
        return Check(
            DomainStatus.FAILED,
            f"{len(spf)} SPF records at {record.domain}: receivers ignore them all; "
            "merge them into one.",
        )
    if include not in spf[0].lower().split():
        return Check(
            DomainStatus.FAILED,
            f"SPF record found but it does not contain {include}.",
        )
    return Check(DomainStatus.VERIFIED, f"SPF record found and includes {settings.SPF_INCLUDE}.")


def sending_domain_verify(*, domain_id: int, actor: Actor) -> SendingDomain | None:
    """Look the domain's records up and record what was found; None when the domain
    is gone. The lookups happen outside any transaction (they may take seconds)."""
    record = SendingDomain.objects.filter(pk=domain_id).first()
    if record is None:
        return None
    dkim, spf = dkim_check(record), spf_check(record)
    both = dkim.status == spf.status == DomainStatus.VERIFIED
    status = DomainStatus.VERIFIED if both else DomainStatus.FAILED
    taken = (
        both
        and SendingDomain.objects.filter(domain=record.domain, status=DomainStatus.VERIFIED)
        .exclude(pk=record.pk)
        .exists()
    )
    if taken:
        status = DomainStatus.FAILED
        dkim = Check(DomainStatus.FAILED, "Another workspace has already verified this domain.")
    now = timezone.now()
    changes = {
        "status": status,
        "dkim_status": dkim.status,
        "dkim_detail": dkim.detail[:500],
        "spf_status": spf.status,
        "spf_detail": spf.detail[:500],
        "last_checked_at": now,
    }
    if status == DomainStatus.VERIFIED and record.status != DomainStatus.VERIFIED:
        changes["verified_at"] = now
    try:
        with transaction.atomic():
            SendingDomain.objects.filter(pk=record.pk).update(**changes)
            if status != record.status:
                audit_record(
                    workspace=record.workspace,
                    action=f"messaging.sending_domain_{status}",
                    actor=actor,
                    object_type="sending_domain",
                    object_id=record.pk,
                    details={"domain": record.domain, "was": record.status},
                )
    except IntegrityError:
        # Another workspace verified the domain between the check above and now.
        return sending_domain_verify(domain_id=domain_id, actor=actor)
    logger.info("messaging.sending_domain_checked domain_id=%s status=%s", record.pk, status)
    record.refresh_from_db()
    return record


def signing_domain_for(*, workspace_id: int, from_domain: str) -> SendingDomain | None:
    """The workspace's verified domain that signs mail from `from_domain`: the domain
    itself or its closest verified parent (DKIM's relaxed alignment: d= may be the
    organisational domain of the From address)."""
    from_domain = from_domain.lower().rstrip(".")
    labels = from_domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    verified = {
        d.domain: d
        for d in SendingDomain.objects.filter(
            workspace_id=workspace_id, status=DomainStatus.VERIFIED, domain__in=candidates
        )
    }
    return next((verified[c] for c in candidates if c in verified), None)


def sending_domains_due() -> list[int]:
    """Unverified domains added in the last week and not checked in the last five
    minutes: the beat task re-checks them, so records published after the domain was
    added are found without anyone clicking "Check now"."""
    now = timezone.now()
    return list(
        SendingDomain.objects.exclude(status=DomainStatus.VERIFIED)
        .filter(created_at__gte=now - dt.timedelta(days=7))
        .exclude(last_checked_at__gte=now - dt.timedelta(minutes=5))
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )


def dns_records(record: SendingDomain) -> list[dict[str, str]]:
    """The records to publish for `record`, each with what its last check found."""
    return [
        {
            "kind": "DKIM",
            "type": "TXT",
            "name": record.dkim_name,
            "value": record.dkim_value,
            "status": record.dkim_status,
            "detail": record.dkim_detail,
        },
        {
            "kind": "SPF",
            "type": "TXT",
            "name": record.domain,
            "value": f"v=spf1 include:{settings.SPF_INCLUDE} ~all",
            "status": record.spf_status,
            "detail": record.spf_detail,
        },
    ]
