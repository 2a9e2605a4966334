"""Attribution: `referred_by` on a contact's creation (a code, or the signed token the
landing page gave the signup form) links the new contact to its referrer, through the
contact-extra-field registry of contacts/hooks.py (contacts cannot import loyalty)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from contacts.hooks import ContactExtraField
from contacts.models import Contact
from contacts.services.marks import contacts_mark_changed
from loyalty.models import Referral, ReferralCode, ReferralStatus, ReferralVisit
from loyalty.services.referrals import (
    CODE_PATTERN,
    referral_settings_get,
    referral_token_read,
)
from loyalty.services.referrals_fraud import signup_flags
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

MAX_TOKEN = 1000


@dataclass(frozen=True)
class ReferredBy:
    code: ReferralCode
    visit: ReferralVisit | None


def referred_by_clean(workspace: Workspace, value: Any) -> tuple[ReferredBy | None, str | None]:
    """A code of this workspace or a valid token naming one; an unknown one is an error
    (a 400 naming `referred_by`). With the programme switched off the value is
    accepted and ignored, so a shop's signup does not fail for it."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str) or len(value) > MAX_TOKEN:
        return None, "must be a referral code or the token of a referral link"
    visit_id = 0
    code = value.strip().upper()
    if not CODE_PATTERN.match(code):
        read = referral_token_read(value.strip())
        if read is None:
            return None, "not a referral code, or the referral link's token is invalid or expired"
        code, visit_id = read
    row = (
        ReferralCode.objects.filter(workspace=workspace, code=code)
        .select_related("contact")
        .first()
    )
    if row is None:
        return None, "no such referral code"
    if not referral_settings_get(workspace=workspace).enabled:
        return None, None
    visit = (
        ReferralVisit.objects.filter(workspace=workspace, code=row, pk=visit_id).first()
        if visit_id
        else None
    )
    return ReferredBy(row, visit), None


def referred_by_apply(contact: Contact, value: ReferredBy | None) -> None:
    """Record the referral (in the creation's transaction), flagged for review when a
    fraud guard says so."""
    if value is None:
        return
    referrer = value.code.contact
    ip_hash = value.visit.ip_hash if value.visit else ""
    flags = signup_flags(referrer=referrer, friend=contact, ip_hash=ip_hash)
    referral = Referral.objects.create(
        workspace_id=contact.workspace_id,
        referrer=referrer,
        referred=contact,
        code=value.code.code,
        visit=value.visit,
        ip_hash=ip_hash,
        status=ReferralStatus.FLAGGED if flags else ReferralStatus.PENDING,
        flags=flags,
        created_at=timezone.now(),
    )
    # The referrer's `referrals_sent` changed: its stage rules are evaluated again.
    contacts_mark_changed(contact_ids=[referrer.pk])
    logger.info(
        "loyalty.referral_recorded workspace=%s referral=%s referrer=%s flags=%s",
        contact.workspace_id,
        referral.pk,
        referrer.pk,
        ",".join(f["reason"] for f in flags),
    )


REFERRED_BY = ContactExtraField(
    name="referred_by",
    clean=referred_by_clean,
    apply=referred_by_apply,
    description="a referral code, or the `ref` token the referral landing page gave",
    label="Referred by (referral code)",
    aliases=("referredby", "referralcode", "referrercode", "ref"),
    schema={"type": "string", "maxLength": MAX_TOKEN, "nullable": True},
)
