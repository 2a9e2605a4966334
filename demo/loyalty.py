"""The demo's loyalty programme: a point per dollar of purchases, a year of ledger
history earned from the demo's own purchases (each purchase's points on its day), some
redemptions of two rewards, Silver and Gold tiers reached on the way, then the loyalty
rollups rebuilt. Written in bulk from the purchases (a few thousand rows), not through
the engine: the demo's events happened before the programme was switched on, and
replaying a year through the earning hook would make the demo build slow."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from analytics.rollups.loyalty import loyalty_rollups_rebuild
from contacts.models import Event
from loyalty.models import (
    ContactTier,
    LedgerEntry,
    PointsBalance,
    Redemption,
    Reward,
    RewardCode,
    Tier,
    TierChange,
)
from loyalty.services import programme_update, reward_codes_add, reward_create, tier_create
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")
WINDOW = dt.timedelta(days=365)


def _entry(
    ws: Workspace,
    contact_id: int,
    kind: str,
    points: int,
    after: int,
    at: dt.datetime,
    key: str,
    **extra: object,
) -> LedgerEntry:
    return LedgerEntry(
        workspace=ws,
        contact_id=contact_id,
        kind=kind,
        points=points,
        balance_after=after,
        source_kind="event" if kind == "earn" else "reward",
        idempotency_key=key,
        occurred_at=at,
        created_at=at,
        **extra,
    )


def demo_loyalty_seed(*, workspace: Workspace, seed: int) -> int:
    """Returns the ledger entries written."""
    rng = random.Random(seed + 17)
    programme_update(
        workspace=workspace,
        data={
            "enabled": True,
            "points_per_unit": "1",
            "value_per_point": "0.02",
            "event_points": {"review_written": 50, "birthday": 100},
        },
        actor=ACTOR,
    )
    silver = tier_create(
        workspace=workspace,
        data={"name": "Silver", "threshold": 150, "benefits": "Free shipping"},
        actor=ACTOR,
    )
    gold = tier_create(
        workspace=workspace,
        data={"name": "Gold", "threshold": 400, "benefits": "Early access"},
        actor=ACTOR,
    )
    coupon = reward_create(
        workspace=workspace,
        data={"name": "$5 off", "kind": "discount_code", "points_cost": 200},
        actor=ACTOR,
    )
    reward_codes_add(reward=coupon, data={"generate": 200, "prefix": "NW"}, actor=ACTOR)
    bag = reward_create(
        workspace=workspace,
        data={"name": "Free 250g bag", "kind": "free_item", "points_cost": 600},
        actor=ACTOR,
    )
    purchases = (
        Event.objects.filter(workspace=workspace, name="purchase", revenue__gt=0)
        .order_by("contact_id", "occurred_at", "pk")
        .values_list("pk", "contact_id", "revenue", "occurred_at")
    )
    latest = timezone.now() - dt.timedelta(minutes=5)  # nothing after now
    entries: list[LedgerEntry] = []
    redeemed: list[tuple[int, Reward, int]] = []  # (entry index, reward, contact)
    changes: list[TierChange] = []
    balances: dict[int, list[int]] = {}  # contact: [balance, earned, redeemed]
    earned_at: dict[int, list[tuple[dt.datetime, int]]] = {}
    tiers: dict[int, tuple[Tier | None, dt.datetime]] = {}
    for event_id, contact_id, revenue, at in purchases:
        state = balances.setdefault(contact_id, [0, 0, 0])
        points = int(Decimal(revenue or 0))  # floored, as the programme earns
        state[0] += points
        state[1] += points
        entries.append(
            _entry(
                workspace,
                contact_id,
                "earn",
                points,
                state[0],
                at,
                f"event:{event_id}",
                event_id=event_id,
                reason="purchase",
            )
        )
        history = earned_at.setdefault(contact_id, [])
        history.append((at, points))
        window = sum(p for when, p in history if when > at - WINDOW)
        new = gold if window >= gold.threshold else silver if window >= silver.threshold else None
        old = tiers.get(contact_id, (None, at))[0]
        if new is not None and (old is None or new.threshold > old.threshold):
            changes.append(
                TierChange(
                    workspace=workspace,
                    contact_id=contact_id,
                    from_tier=old,
                    to_tier=new,
                    from_name=old.name if old else "",
                    to_name=new.name,
                    cause="earned",
                    points_in_window=window,
                    at=at,
                )
            )
            tiers[contact_id] = (new, at)
        # Some members spend their points a few days later.
        for reward in (bag, coupon):
            if state[0] >= reward.points_cost and rng.random() < 0.6:
                when = min(at + dt.timedelta(days=rng.uniform(1, 9)), latest)
                state[0] -= reward.points_cost
                state[2] += reward.points_cost
                entries.append(
                    _entry(
                        workspace,
                        contact_id,
                        "redeem",
                        -reward.points_cost,
                        state[0],
                        when,
                        f"demo-redeem:{len(entries)}",
                        reason=reward.name,
                    )
                )
                redeemed.append((len(entries) - 1, reward, contact_id))
                break
    LedgerEntry.objects.bulk_create(entries, batch_size=2000)
    codes = list(coupon.codes.order_by("pk"))
    redemptions = []
    for index, reward, contact_id in redeemed:
        entry = entries[index]
        code = codes.pop() if reward is coupon and codes else None
        redemptions.append(
            Redemption(
                workspace=workspace,
                contact_id=contact_id,
                reward=reward,
                points=reward.points_cost,
                entry=entry,
                code=code.code if code else "",
                idempotency_key=entry.idempotency_key,
                created_at=entry.occurred_at,
            )
        )
    Redemption.objects.bulk_create(redemptions, batch_size=2000)
    issued = {code.code: code for code in coupon.codes.all()}
    for redemption in redemptions:
        if redemption.code:  # the pool's code, taken by this redemption
            issued[redemption.code].redemption = redemption
            issued[redemption.code].issued_at = redemption.created_at
    RewardCode.objects.bulk_update(
        [c for c in issued.values() if c.redemption_id], ["redemption", "issued_at"]
    )
    PointsBalance.objects.bulk_create(
        PointsBalance(
            workspace=workspace, contact_id=c, balance=b, earned_total=e, redeemed_total=r
        )
        for c, (b, e, r) in balances.items()
    )
    ContactTier.objects.bulk_create(
        ContactTier(workspace=workspace, contact_id=c, tier=tier, since=since)
        for c, (tier, since) in tiers.items()
    )
    TierChange.objects.bulk_create(changes)
    loyalty_rollups_rebuild(workspace_id=workspace.pk)
    return len(entries)
