"""The catalogue's journey triggers: browse abandonment (here), and back in stock and
price drop (their hook: triggers.py; their `lookback_days`: PRODUCT_LOOKBACK_DAYS).

The "browse abandonment" trigger: a contact looked at products (`product_viewed`)
and did not cart or buy within N hours.

    {"kind": "browse_abandoned", "hours": 4}

A contact's views form a **session**: views less than N hours apart belong together
(at most `SESSION_MAX_DAYS` of them). The session's window closes N hours after its
last view; if the contact has no `added_to_cart`, `cart_abandoned` or `purchase` from
the session's first view until then, they enter, keyed by the session's last view
(`browse:<event id>`), so once per session whatever the re-entry setting, and the
journey's re-entry setting decides whether a later session lets them in again.

Nothing happens at the moment of a view, so this is a scan (browse_scan.py, beat every
`JOURNEYS_BROWSE_SCAN_SECONDS`): per live journey, a watermark row
(`JourneyScanMark.scanned_until`) says up to which close time the windows were judged;
a run judges the windows that closed since, up to now, in one statement, and moves the
watermark in the same transaction. The row is claimed with FOR UPDATE SKIP LOCKED, so
a second worker skips a journey being scanned, and a run that fails rolls back both
its entries and the watermark (the trigger key makes a repeat harmless anyway).

The watermark starts when the journey goes live: views from before it never count. A
view recorded after its window was judged (sent late with an old time) is not looked
at again, as history brought in triggers nothing elsewhere.

The message shows the products with the Recommendations block's "Products they
looked at" kind (`recs_viewed_<n>`, catalog/render.py): the contact's latest views."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.steps.base import Checker

# How far back a product viewed or carted counts for the back-in-stock and price-drop
# triggers, unless the trigger says (`lookback_days`).
PRODUCT_LOOKBACK_DAYS = 30
DEFAULT_HOURS = 4
MAX_HOURS = 168
SESSION_MAX_DAYS = 3
CART_OR_PURCHASE = ("added_to_cart", "cart_abandoned", "purchase")


def browse_hours(trigger: dict[str, Any]) -> int:
    hours = trigger.get("hours", DEFAULT_HOURS)
    return hours if isinstance(hours, int) and not isinstance(hours, bool) else DEFAULT_HOURS


def browse_trigger_check(c: Checker, trigger: dict[str, Any]) -> None:
    hours = trigger.get("hours", DEFAULT_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        c.add("trigger.hours", f"must be a whole number of hours from 1 to {MAX_HOURS}")


def browse_trigger_words(trigger: dict[str, Any]) -> str:
    hours = browse_hours(trigger)
    return (
        f"Views products, then no cart or purchase within {hours} hour{'s' if hours != 1 else ''}"
    )


def product_trigger_words(trigger: dict[str, Any]) -> str:
    """Back in stock and price drop (checked in definition.py): what and how far back."""
    days = trigger.get("lookback_days", PRODUCT_LOOKBACK_DAYS)
    what = "is back in stock" if trigger.get("kind") == "back_in_stock" else "drops in price"
    return f"A product they viewed or carted in the last {days} days {what}"
