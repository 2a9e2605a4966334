"""The loyalty triggers: a contact enters a journey when loyalty tells of something
(loyalty/hooks.py `on_loyalty_news`, in the transaction that wrote it).

    {"kind": "tier_changed", "tier_id": 3 | null, "direction": "up" | "down" | ""}
    {"kind": "points_earned", "min_points": 100 | null}
    {"kind": "points_expiring"}
    {"kind": "reward_redeemed", "reward_id": 7 | null}

`tier_id` is the tier entered (null: any; "down" to no tier at all is `tier_id` null
with "down"); `min_points` the least one entry earns; `reward_id` null is any reward.
The entry is keyed by what loyalty reports (`tier:<change>`, `points:<entry>`,
`expiring:<contact>:<day of last activity>`, `redemption:<id>`): a hook offered twice
enrols nobody twice."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.steps.base import Checker, Names
from campaigns.models import TriggerKind
from loyalty.hooks import LoyaltyNews
from loyalty.models import Reward, Tier

LOYALTY_KINDS = (
    TriggerKind.TIER_CHANGED,
    TriggerKind.POINTS_EARNED,
    TriggerKind.POINTS_EXPIRING,
    TriggerKind.REWARD_REDEEMED,
)
DIRECTIONS = {"": "either way", "up": "up", "down": "down"}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def loyalty_trigger_check(c: Checker, trigger: dict[str, Any]) -> None:
    kind = trigger["kind"]
    if kind == TriggerKind.TIER_CHANGED:
        tier_id = trigger.get("tier_id")
        if (
            tier_id is not None
            and not Tier.objects.filter(
                workspace=c.workspace, pk=tier_id if _whole(tier_id) else -1
            ).exists()
        ):
            c.add("trigger.tier_id", "no such tier in this workspace")
        if trigger.get("direction") not in (None, *DIRECTIONS):
            c.add("trigger.direction", "must be up, down or empty")
    elif kind == TriggerKind.POINTS_EARNED:
        low = trigger.get("min_points")
        if low is not None and (not _whole(low) or not 1 <= low <= 1_000_000_000):
            c.add("trigger.min_points", "must be a whole number from 1, or empty")
    elif kind == TriggerKind.REWARD_REDEEMED:
        reward_id = trigger.get("reward_id")
        if (
            reward_id is not None
            and not Reward.objects.filter(
                workspace=c.workspace, pk=reward_id if _whole(reward_id) else -1
            ).exists()
        ):
            c.add("trigger.reward_id", "no such reward in this workspace")


def news_matches(trigger: dict[str, Any], news: LoyaltyNews) -> bool:
    kind = trigger.get("kind")
    if kind != news.kind:
        return False
    if kind == TriggerKind.TIER_CHANGED:
        direction = trigger.get("direction") or ""
        if direction and (direction == "up") != news.up:
            return False
        return trigger.get("tier_id") in (None, news.tier_id)
    if kind == TriggerKind.POINTS_EARNED:
        return news.points >= (trigger.get("min_points") or 1)
    if kind == TriggerKind.REWARD_REDEEMED:
        return trigger.get("reward_id") in (None, news.reward_id)
    return True


def loyalty_trigger_words(trigger: dict[str, Any], names: Names) -> str:
    kind = trigger.get("kind")
    if kind == TriggerKind.TIER_CHANGED:
        tier_id = trigger.get("tier_id")
        direction = trigger.get("direction") or ""
        if tier_id is None:
            return {"up": "Moves up a tier", "down": "Moves down a tier"}.get(
                direction, "Changes loyalty tier"
            )
        moved = {"up": "Moves up to", "down": "Moves down to"}.get(direction, "Enters")
        return f"{moved} tier {names.of('tiers', tier_id)}"
    if kind == TriggerKind.POINTS_EARNED:
        low = trigger.get("min_points")
        return f"Earns at least {low} points at once" if low else "Earns points"
    if kind == TriggerKind.POINTS_EXPIRING:
        return "Has points about to expire (the programme's reminder)"
    reward_id = trigger.get("reward_id")
    which = "any reward" if reward_id is None else f"reward {names.of('rewards', reward_id)}"
    return f"Redeems {which}"
