"""Fraud guards of the referral programme. Each returns flags ({"reason", "detail"});
a referral with any flag waits for a person's review and pays nothing until approved.

- `self_referral`: the friend is the referrer under another record: the same email
  (compared without a +tag, and without dots for Gmail), phone, or payment fingerprint
  (a hash the shop passes as the `payment_fingerprint` attribute, or as a property of
  the purchase events).
- `loop`: the friend is the same person as one of the referrer's own referrers, up the
  chain (A brought B, B brings A again under a new record; or A → B → C → A).
- `ip_burst`: more than IP_BURST_LIMIT signups came through landing visits from one
  IP within IP_BURST_WINDOW.
- `disposable_email`: the friend's email domain (or a parent of it) is on the
  maintained list of the `disposable-email-domains` package."""

from __future__ import annotations

import datetime as dt
from typing import Any

from disposable_email_domains import blocklist
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, Event
from loyalty.models import Referral

IP_BURST_LIMIT = 3
IP_BURST_WINDOW = dt.timedelta(hours=1)
MAX_CHAIN = 20
FINGERPRINT = "payment_fingerprint"
GMAIL = {"gmail.com", "googlemail.com"}

Flag = dict[str, str]


def email_identity(email: str) -> str:
    """The mailbox an address reaches: lower case, no +tag, no dots for Gmail."""
    email = (email or "").strip().lower()
    if "@" not in email:
        return email
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def fingerprint_of(contact: Contact) -> str:
    value = (contact.attributes or {}).get(FINGERPRINT)
    return value.strip() if isinstance(value, str) else ""


def same_person(a: Contact, b: Contact) -> str:
    """What two contacts share that says they are one person ("" if nothing)."""
    if a.email and b.email and email_identity(a.email) == email_identity(b.email):
        return "email"
    if a.phone and b.phone and a.phone == b.phone:
        return "phone"
    if fingerprint_of(a) and fingerprint_of(a) == fingerprint_of(b):
        return "payment fingerprint"
    return ""


def is_disposable(email: str) -> bool:
    if "@" not in (email or ""):
        return False
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocklist for i in range(len(parts) - 1))


def _ancestors(referrer: Contact) -> list[Contact]:
    """The referrer's own referrers, nearest first (bounded; a cycle stops it)."""
    chain: list[Contact] = []
    seen = {referrer.pk}
    current = referrer.pk
    for _ in range(MAX_CHAIN):
        up = (
            Referral.objects.filter(workspace_id=referrer.workspace_id, referred_id=current)
            .select_related("referrer")
            .first()
        )
        if up is None or up.referrer_id in seen:
            break
        chain.append(up.referrer)
        seen.add(up.referrer_id)
        current = up.referrer_id
    return chain


def signup_flags(*, referrer: Contact, friend: Contact, ip_hash: str) -> list[Flag]:
    flags: list[Flag] = []
    shared = same_person(referrer, friend)
    if shared:
        flags.append({"reason": "self_referral", "detail": f"same {shared} as the referrer"})
    for ancestor in _ancestors(referrer):
        shared = same_person(ancestor, friend)
        if shared:
            flags.append(
                {
                    "reason": "loop",
                    "detail": f"same {shared} as contact {ancestor.pk}, "
                    "who is up the referrer's own chain",
                }
            )
            break
    if ip_hash:
        recent = Referral.objects.filter(
            workspace_id=referrer.workspace_id,
            ip_hash=ip_hash,
            created_at__gte=timezone.now() - IP_BURST_WINDOW,
        ).count()
        if recent + 1 > IP_BURST_LIMIT:
            minutes = int(IP_BURST_WINDOW.total_seconds() // 60)
            flags.append(
                {
                    "reason": "ip_burst",
                    "detail": f"{recent + 1} signups from one IP within {minutes} minutes",
                }
            )
    if friend.email and is_disposable(friend.email):
        flags.append({"reason": "disposable_email", "detail": "a disposable email domain"})
    return flags


def conversion_flags(*, referral: Referral, properties: dict[str, Any]) -> list[Flag]:
    """At conversion: the qualifying purchase paid with a card (fingerprint) the
    referrer has used, on the referrer's record or in its purchases."""
    value = properties.get(FINGERPRINT)
    if not isinstance(value, str) or not value.strip():
        return []
    value = value.strip()
    referrer = referral.referrer
    used = fingerprint_of(referrer) == value or (
        Event.objects.filter(
            Q(**{f"properties__{FINGERPRINT}": value}),
            workspace_id=referral.workspace_id,
            contact_id=referrer.pk,
        ).exists()
    )
    if not used:
        return []
    return [{"reason": "self_referral", "detail": "paid with the referrer's payment fingerprint"}]
