"""The "referral converted" trigger: a friend brought by a contact's referral link made
its qualifying purchase (loyalty's `on_referral_converted` hook).

    {"kind": "referral_converted", "side": "referrer" | "friend"}

`side` says who enters the journey: the contact who shared the link (a thank-you, a
nudge to share again) or the friend (a welcome). Default: the referrer."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.steps.base import Checker

SIDES = {"referrer": "the referrer", "friend": "the referred friend"}


def referral_trigger_check(c: Checker, trigger: dict[str, Any]) -> None:
    if trigger.get("side", "referrer") not in SIDES:
        c.add("trigger.side", f"must be one of {', '.join(SIDES)}")


def referral_trigger_words(trigger: dict[str, Any]) -> str:
    who = SIDES.get(trigger.get("side", "referrer"), "the referrer")
    return f"A referral converts ({who} enters)"


def referral_entrant(trigger: dict[str, Any], referral: Any) -> tuple[int, str]:
    """(contact id, trigger key) of who enters for this referral."""
    side = trigger.get("side", "referrer")
    contact_id = referral.referred_id if side == "friend" else referral.referrer_id
    return contact_id, f"referral:{referral.pk}:{side}"
