"""What loyalty tells the apps to its right (campaigns registers the journeys'
loyalty triggers here in its AppConfig.ready(); loyalty never imports campaigns,
docs/architecture.md, Hooks).

Every hook is called inside the transaction that wrote what it reports (a failing
hook rolls that back, and the work is offered again), and must be idempotent: each
report carries a key that names it once (`tier:<change id>`, `points:<entry id>`,
`expiring:<contact>:<last activity>`, `redemption:<id>`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoyaltyNews:
    """One thing that happened to a contact's membership.

    `kind`: tier_changed (`tier_id` / `from_tier_id` and `up`), points_earned
    (`points`), points_expiring (`points`, `expires_at`), reward_redeemed
    (`reward_id`, `points`)."""

    kind: str
    workspace_id: int
    contact_id: int
    key: str
    at: dt.datetime
    points: int = 0
    tier_id: int | None = None
    from_tier_id: int | None = None
    up: bool = False
    reward_id: int | None = None
    expires_at: dt.datetime | None = None


TIER_CHANGED = "tier_changed"
POINTS_EARNED = "points_earned"
POINTS_EXPIRING = "points_expiring"
REWARD_REDEEMED = "reward_redeemed"

NewsHook = Callable[[Sequence[LoyaltyNews]], None]
_hooks: list[NewsHook] = []


def on_loyalty_news(hook: NewsHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def loyalty_news_notify(news: Sequence[LoyaltyNews]) -> None:
    """Called by the loyalty services in their transaction, with what they wrote."""
    if not news:
        return
    for hook in _hooks:
        hook(news)
