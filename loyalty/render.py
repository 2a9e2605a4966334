"""The names a message template can use about the contact's membership (registered
with messaging's `register_context_provider`):

- `loyalty.balance`, `loyalty.tier` (name, or empty), `loyalty.tier_benefits`,
  `loyalty.next_tier`, `loyalty.points_to_next_tier` (by spend: the amount still to
  spend), `loyalty.to_next_tier` (with its unit: "120 points", "120 EUR"),
  `loyalty.expires_on` (the last
  day the points are good for, YYYY-MM-DD in the contact's zone, or empty),
  `loyalty.member_url` (the signed member page), `loyalty.referral_url` (the
  contact's referral link, empty when it gets none);
- `reward_<id>_code`: a code of that discount code reward, given to the contact when
  the message is rendered, once per message (services/message_codes.py).

Only a template that names them costs a query. A preview (no message) shows the
contact's figures but takes no code (`PREVIEW-CODE`) and links nowhere."""

from __future__ import annotations

import re
from typing import Any

from config.errors import DomainError
from contacts.models import Contact
from loyalty import tokens
from loyalty.models import Programme
from loyalty.selectors_member import standing_for
from loyalty.selectors_referrals import referral_link_for
from loyalty.services.expiry import expiry_day
from loyalty.services.message_codes import message_code_assign
from messaging.models import Template
from messaging.sandbox import TemplateError
from workspaces.models import Workspace

CODE_NAME = re.compile(r"\breward_(\d{1,18})_code\b")
LOYALTY_NAME = re.compile(r"\bloyalty\b")
PREVIEW_CODE = "PREVIEW-CODE"
PREVIEW_URL = "#preview-member-page"
PREVIEW_REFERRAL_URL = "#preview-referral-link"


def _text(template: Template | None) -> str:
    if template is None:
        return ""
    return " ".join((template.subject, template.preheader, template.body, template.text_body))


def loyalty_data(
    workspace: Workspace, contact: Contact | None, message_id: int | None
) -> dict[str, Any]:
    if contact is None:
        return {
            "balance": 0,
            "tier": "",
            "tier_benefits": "",
            "next_tier": "",
            "points_to_next_tier": 0,
            "to_next_tier": "",
            "member_url": PREVIEW_URL,
            "expires_on": "",
            "referral_url": PREVIEW_REFERRAL_URL,
        }
    standing = standing_for(contact=contact)
    expires_on = expiry_day(
        programme=Programme.objects.filter(workspace_id=workspace.pk).first(),
        last_activity=standing.last_activity_at,
        zone_name=contact.time_zone or workspace.time_zone,
    )
    return {
        "balance": standing.balance,
        "tier": standing.tier.name if standing.tier else "",
        "tier_benefits": standing.tier.benefits if standing.tier else "",
        "next_tier": standing.next_tier.name if standing.next_tier else "",
        # By spend, the amount still to spend (whole units of the currency).
        "points_to_next_tier": standing.points_to_next_tier,
        # The same with its unit ("120 points", "120 EUR"); empty at the top tier.
        "to_next_tier": f"{standing.points_to_next_tier} {standing.rule.unit}"
        if standing.next_tier
        else "",
        # The last day the points are good for, ISO (the `date` filter formats it).
        "expires_on": expires_on.isoformat() if expires_on and standing.balance else "",
        "member_url": tokens.member_url(workspace_id=contact.workspace_id, contact_id=contact.pk)
        if message_id
        else PREVIEW_URL,
        # Empty when the contact gets no code (referrals off, or not in the stages).
        "referral_url": referral_link_for(contact=contact) or "",
    }


def loyalty_context(
    workspace: Workspace, contact: Contact | None, message_id: int | None, template: Template | None
) -> dict[str, Any]:
    text = _text(template)
    extra: dict[str, Any] = {}
    if LOYALTY_NAME.search(text):
        extra["loyalty"] = loyalty_data(workspace, contact, message_id)
    for reward_id in sorted({int(m) for m in CODE_NAME.findall(text)}):
        name = f"reward_{reward_id}_code"
        if message_id is None or contact is None:
            extra[name] = PREVIEW_CODE
            continue
        try:
            extra[name] = message_code_assign(
                workspace_id=workspace.pk,
                contact_id=contact.pk,
                reward_id=reward_id,
                message_id=message_id,
            )
        except DomainError as exc:
            raise TemplateError("body", None, str(exc)) from None
    return extra
