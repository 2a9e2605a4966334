"""The `on_referral_converted` hook: apps to the right of loyalty (campaigns' journeys)
act on a referral's conversion by registering a function here in their
AppConfig.ready() (not Django signals: the flow stays explicit, imports one way).

Hooks are called in the transaction that records the conversion (the lifecycle
engine's, through `on_contacts_refreshed`), once per referral: the conversion is a
conditional update only one writer wins. A failing hook rolls the conversion back and
the engine offers the contacts again, so a hook must be idempotent (key its writes by
the referral's id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Called with the converted Referral rows (referrer, referred, status, converted_at).
ReferralConvertedHook = Callable[[list[Any]], None]
_converted: list[ReferralConvertedHook] = []


def on_referral_converted(hook: ReferralConvertedHook) -> ReferralConvertedHook:
    if hook not in _converted:
        _converted.append(hook)
    return hook


def referrals_converted_notify(referrals: list[Any]) -> None:
    if not referrals:
        return
    for hook in _converted:
        hook(referrals)
