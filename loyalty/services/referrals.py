"""The referral programme's settings, each contact's code, the landing page's visits and
the signed token that carries a code into signup without a cookie (docs/loyalty.md
"Referrals")."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import field_errors
from contacts.models import Contact
from lifecycle.models import ContactStage, Stage
from loyalty.models import ReferralCode, ReferralSettings, ReferralVisit, Reward
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

FIELDS = (
    "enabled",
    "stage_ids",
    "qualifying_event",
    "min_amount",
    "within_days",
    "referrer_points",
    "referrer_reward_id",
    "friend_points",
    "friend_reward_id",
    "hold_days",
    "monthly_limit",
    "signup_url",
)
# 31 symbols without 0/O/1/I/L (read aloud, typed from a phone); 10 of them are
# about 49.5 bits from `secrets`: guessing a live code is hopeless.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_SYMBOLS = 10
CODE_PATTERN = re.compile(rf"^[{ALPHABET}]{{{CODE_SYMBOLS}}}$")
AMOUNT_PATTERN = r"^[0-9]{1,9}(?:\.[0-9]{1,2})?$"
SIGNUP_URL_PATTERN = r"^https?://[^\s/?#]+\S*$"
MAX_WITHIN_DAYS = 3650
MAX_MONTHLY_LIMIT = 10_000
MAX_HOLD_DAYS = 365
SIGNING_NAMESPACE = "loyalty.referral"
TOKEN_MAX_AGE = 60 * 60 * 24 * 30  # a friend has 30 days from the landing page to sign up


def referral_settings_get(*, workspace: Workspace) -> ReferralSettings:
    """The workspace's settings; none saved yet reads as the defaults (off)."""
    return ReferralSettings.objects.filter(workspace=workspace).select_related(
        "referrer_reward", "friend_reward"
    ).first() or ReferralSettings(workspace=workspace)


def _reward(value: Any, field: str, workspace: Workspace, errors: Errors) -> Reward | None:
    if value is None:
        return None
    pk = whole(value, field, errors, low=1, high=2**63 - 1)
    if pk is None:
        return None
    reward = Reward.objects.filter(workspace=workspace, pk=pk).first()
    if reward is None:
        errors[field] = ["no such reward"]
    return reward


def _stage_ids(value: Any, workspace: Workspace, errors: Errors) -> list[int] | None:
    if not isinstance(value, list) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in value
    ):
        errors["stage_ids"] = ["must be a list of stage ids"]
        return None
    known = set(
        Stage.objects.filter(workspace=workspace, pk__in=value).values_list("pk", flat=True)
    )
    missing = sorted(set(value) - known)
    if missing:
        errors["stage_ids"] = [f"no such stage: {', '.join(map(str, missing))}"]
        return None
    return sorted(set(value))


def _apply_numbers(row: ReferralSettings, data: dict[str, Any], errors: Errors) -> None:
    if "min_amount" in data:
        amount = data["min_amount"]
        if isinstance(amount, str) and re.match(AMOUNT_PATTERN, amount):
            row.min_amount = Decimal(amount)
        else:
            errors["min_amount"] = ['an amount as a string, at most 2 decimals ("25.00")']
    for key, low, high in (
        ("referrer_points", 0, MAX_POINTS),
        ("friend_points", 0, MAX_POINTS),
        ("hold_days", 0, MAX_HOLD_DAYS),
    ):
        if key in data:
            number = whole(data[key], key, errors, low=low, high=high)
            if number is not None:
                setattr(row, key, number)
    for key, high in (("within_days", MAX_WITHIN_DAYS), ("monthly_limit", MAX_MONTHLY_LIMIT)):
        if key not in data:
            continue
        if data[key] is None:
            setattr(row, key, None)
            continue
        number = whole(data[key], key, errors, low=1, high=high)
        if number is not None:
            setattr(row, key, number)


def _apply_signup_url(row: ReferralSettings, value: Any, errors: Errors) -> None:
    url = text(value, "signup_url", errors, limit=500, required=False)
    if url is None:
        return
    if url and not re.match(SIGNUP_URL_PATTERN, url):
        errors["signup_url"] = ["must be an http(s) address"]
        return
    row.signup_url = url


def _apply(row: ReferralSettings, data: dict[str, Any], workspace: Workspace) -> None:
    errors: Errors = {}
    unknown(data, FIELDS, errors)
    if "enabled" in data:
        if isinstance(data["enabled"], bool):
            row.enabled = data["enabled"]
        else:
            errors["enabled"] = ["must be true or false"]
    if "stage_ids" in data:
        stages = _stage_ids(data["stage_ids"], workspace, errors)
        if stages is not None:
            row.stage_ids = stages
    if "qualifying_event" in data:
        name = text(data["qualifying_event"], "qualifying_event", errors, limit=200, required=False)
        if name is not None:
            row.qualifying_event = name
    _apply_numbers(row, data, errors)
    for side in ("referrer", "friend"):
        key = f"{side}_reward_id"
        if key in data:
            reward = _reward(data[key], key, workspace, errors)
            if key not in errors:
                setattr(row, f"{side}_reward", reward)
    if "signup_url" in data:
        _apply_signup_url(row, data["signup_url"], errors)
    if errors:
        raise field_errors(errors)


@transaction.atomic
def referral_settings_update(
    *, workspace: Workspace, data: dict[str, Any], actor: Actor
) -> ReferralSettings:
    row, _ = ReferralSettings.objects.select_for_update().get_or_create(workspace=workspace)
    _apply(row, data, workspace)
    row.updated_at = timezone.now()
    row.save()
    audit_record(
        workspace=workspace,
        action="loyalty.referral_settings_updated",
        actor=actor,
        object_type="loyalty_referral_settings",
        object_id=row.pk,
        details={"fields": sorted(data)},
    )
    return row


def code_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))


def contact_eligible(*, contact: Contact, row: ReferralSettings) -> bool:
    """Does the contact get a code? Only while the programme is on, and only in the
    chosen stages (none chosen: every contact)."""
    if not row.enabled:
        return False
    if not row.stage_ids:
        return True
    return ContactStage.objects.filter(contact_id=contact.pk, stage_id__in=row.stage_ids).exists()


def referral_code_ensure(*, contact: Contact) -> ReferralCode | None:
    """The contact's code, made on first use if the contact is eligible (None if not).
    A code is never taken away: a contact that leaves the stages keeps its link
    working, but a new one is not made."""
    existing = ReferralCode.objects.filter(
        workspace_id=contact.workspace_id, contact=contact
    ).first()
    if existing is not None:
        return existing
    row = referral_settings_get(workspace=contact.workspace)
    if not contact_eligible(contact=contact, row=row):
        return None
    for _ in range(5):
        code = code_generate()
        # The link names no workspace: a code another workspace has is drawn again.
        if ReferralCode.objects.filter(code=code).exists():
            continue
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    workspace_id=contact.workspace_id, contact=contact, code=code
                )
        except IntegrityError:
            # Made meanwhile by another request for this contact: that one stands.
            made = ReferralCode.objects.filter(
                workspace_id=contact.workspace_id, contact=contact
            ).first()
            if made is not None:
                return made
    raise RuntimeError("could not draw a free referral code")


def code_lookup(code: str, *, workspace_id: int | None = None) -> ReferralCode | None:
    """The code of a public link, in the workspace the link names (a link shared
    before links named it: any workspace); None if unknown or malformed."""
    code = code.strip().upper()
    if not CODE_PATTERN.match(code):
        return None
    rows = ReferralCode.objects.filter(code=code)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    found = list(rows.select_related("workspace")[:2])
    return found[0] if len(found) == 1 else None


def ip_hash(*, workspace_id: int, ip: str) -> str:
    """A keyed hash of an address: visits from one IP can be counted, the IP itself is
    not kept (and the hash is useless outside this installation and workspace)."""
    if not ip:
        return ""
    key = f"{settings.SECRET_KEY}:referral-ip:{workspace_id}".encode()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()


def referral_visit_record(*, code: ReferralCode, ip: str, user_agent: str) -> ReferralVisit:
    return ReferralVisit.objects.create(
        workspace_id=code.workspace_id,
        code=code,
        ip_hash=ip_hash(workspace_id=code.workspace_id, ip=ip),
        user_agent=user_agent[:300],
        at=timezone.now(),
    )


def referral_token(*, visit: ReferralVisit) -> str:
    """A signed token naming the code and the visit, for the signup form's `ref`."""
    return signing.dumps(
        {"c": visit.code.code, "v": visit.pk}, salt=SIGNING_NAMESPACE, compress=True
    )


def referral_token_read(token: str) -> tuple[str, int] | None:
    """(code, visit id) of a valid, unexpired token; None otherwise."""
    try:
        value = signing.loads(token, salt=SIGNING_NAMESPACE, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("c"), str):
        return None
    visit = value.get("v")
    return value["c"], visit if isinstance(visit, int) else 0
