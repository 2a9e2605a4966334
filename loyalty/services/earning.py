"""Points earned from events, and taken back for refunds (docs/loyalty.md).

The lifecycle engine calls `earn_for_refreshed` (an `on_contacts_refreshed` hook) with
the contacts whose events it has just taken in, in the transaction that consumes their
marks; a failure rolls back what was earned and the engine offers the contacts again.

1. Find the contacts' events that can earn and have no ledger entry yet (the entry of
   an event is keyed `event:<id>`, so a replayed or retried batch earns nothing twice):
   named in `event_points`, or purchases (a purchase event name with revenue), received
   within EARN_LOOKBACK and not before the programme was (last) switched on.
2. Per contact, in id order (the ledger's lock order), under its balance lock: each
   event in the order it happened earns
   floor((revenue * points_per_unit + fixed points) * window factor * tier multiplier),
   cut to what the daily cap leaves for that day; a negative revenue for an order takes
   back its share of what the order earned.
3. Tell the hooks of every entry that earned points (`points:<entry id>`).

Step 2 is one statement (earning_batch.py) when the programme has no daily cap and no
event of the batch is a refund: both need the ledger as each entry leaves it."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from contacts.models import Contact
from loyalty.hooks import POINTS_EARNED, LoyaltyNews, loyalty_news_notify
from loyalty.models import (
    EntryKind,
    LedgerEntry,
    PointsBalance,
    Programme,
    SourceKind,
    TierCause,
)
from loyalty.services.earning_batch import MAX_ORDER_ID, events_earn_in_sql
from loyalty.services.ledger import (
    MAX_POINTS,
    balances_lock,
    balances_lock_rows,
    balances_save,
    entries_insert,
    entry_append,
)
from loyalty.services.tiers import tiers_evaluate

# Events received longer ago than this are not looked at again: the engine takes new
# events in within seconds, and a mark it could not process is retried well within it.
EARN_LOOKBACK = dt.timedelta(days=7)

_CANDIDATES_SQL = """
SELECT e.id, e.contact_id, e.name, e.revenue, e.occurred_at,
       coalesce(e.properties ->> 'order_id', '') AS order_id
FROM contacts_event e
WHERE e.workspace_id = %(ws)s AND e.contact_id = ANY(%(ids)s)
  AND e.name = ANY(%(names)s)
  AND e.occurred_at >= %(enabled)s AND e.received_at >= %(since)s
  AND (e.name = ANY(%(fixed)s)
       OR (e.revenue > 0 OR (e.revenue < 0 AND coalesce(e.properties ->> 'order_id', '') <> '')))
  AND NOT EXISTS (SELECT 1 FROM loyalty_ledgerentry l
                  WHERE l.workspace_id = %(ws)s AND l.idempotency_key = 'event:' || e.id)
ORDER BY e.contact_id, e.occurred_at, e.id
"""


@dataclass(frozen=True)
class Candidate:
    id: int
    contact_id: int
    name: str
    revenue: Decimal | None
    occurred_at: dt.datetime
    order_id: str


def earn_for_refreshed(contact_ids: list[int], since: object = None) -> None:
    if not contact_ids:
        return
    by_workspace: dict[int, list[int]] = defaultdict(list)
    for pk, workspace_id in Contact.objects.filter(pk__in=contact_ids).values_list(
        "pk", "workspace_id"
    ):
        by_workspace[workspace_id].append(pk)
    for workspace_id, ids in sorted(by_workspace.items()):
        programme = (
            Programme.objects.filter(workspace_id=workspace_id, enabled=True)
            .select_related("workspace")
            .first()
        )
        if programme is not None and programme.enabled_at is not None:
            earned = events_earn(programme=programme, contact_ids=ids)
            if earned:
                tiers_evaluate(
                    workspace_id=workspace_id, contact_ids=earned, cause=TierCause.EARNED
                )


def events_earn(
    *, programme: Programme, contact_ids: list[int], now: dt.datetime | None = None
) -> list[int]:
    """Earn (or take back) for the contacts' events not yet in the ledger; returns the
    contacts that got entries. Call inside a transaction."""
    assert programme.enabled_at is not None
    now = now or timezone.now()
    purchase = list(programme.workspace.purchase_event_names)
    fixed = list(programme.event_points)
    with connection.cursor() as cursor:
        cursor.execute(
            _CANDIDATES_SQL,
            {
                "ws": programme.workspace_id,
                "ids": sorted(contact_ids),
                "names": sorted(set(purchase) | set(fixed)),
                "fixed": fixed,
                "enabled": programme.enabled_at,
                "since": max(programme.enabled_at, now - EARN_LOOKBACK),
            },
        )
        rows = [Candidate(*row) for row in cursor.fetchall()]
    if not rows:
        return []
    by_contact: dict[int, list[Candidate]] = defaultdict(list)
    for row in rows:
        by_contact[row.contact_id].append(row)
    if programme.daily_cap is None and not any(
        row.name in purchase and row.revenue is not None and row.revenue < 0 for row in rows
    ):
        balances_lock_rows(workspace_id=programme.workspace_id, contact_ids=list(by_contact))
        earned = events_earn_in_sql(
            programme=programme, event_ids=[row.id for row in rows], purchase=purchase, now=now
        )
        _tell_earned(programme.workspace_id, earned)
        return sorted(by_contact)
    balances = balances_lock(
        workspace_id=programme.workspace_id, contact_ids=list(by_contact), with_tier=True
    )
    factors: dict[int, Decimal] = {
        contact_id: factor
        for contact_id, balance in balances.items()
        if (factor := getattr(balance, "tier_multiplier", None)) is not None
    }
    pending: list[LedgerEntry] = []
    written: list[LedgerEntry] = []
    for contact_id in sorted(by_contact):
        for event in by_contact[contact_id]:
            _earn_one(
                programme,
                balances[contact_id],
                event,
                purchase,
                pending,
                written,
                factors.get(contact_id, Decimal(1)),
            )
    _flush(pending, written)
    balances_save([balances[c] for c in sorted(by_contact)])
    _tell_earned(
        programme.workspace_id,
        [
            (entry.pk, entry.contact_id, entry.points, entry.occurred_at)
            for entry in written
            if entry.kind == EntryKind.EARN
        ],
    )
    return sorted(by_contact)


def _tell_earned(workspace_id: int, entries: list[tuple[int, int, int, dt.datetime]]) -> None:
    """The `points earned` news of the (entry id, contact, points, occurred_at) that
    earned more than nothing."""
    loyalty_news_notify(
        [
            LoyaltyNews(
                kind=POINTS_EARNED,
                workspace_id=workspace_id,
                contact_id=contact_id,
                key=f"points:{pk}",
                at=at,
                points=points,
            )
            for pk, contact_id, points, at in entries
            if points > 0
        ]
    )


def _flush(pending: list[LedgerEntry], written: list[LedgerEntry] | None = None) -> None:
    """Insert the entries written so far, in one statement, before anything reads the
    ledger (a refund's order, the daily cap) and at the end."""
    if pending:
        entries_insert(pending)
        if written is not None:
            written.extend(pending)
        pending.clear()


def _earn_one(
    programme: Programme,
    balance: PointsBalance,
    event: Candidate,
    purchase: list[str],
    pending: list[LedgerEntry],
    written: list[LedgerEntry],
    tier_factor: Decimal,
) -> None:
    order_id = event.order_id if len(event.order_id) <= MAX_ORDER_ID else ""
    is_purchase = event.name in purchase and event.revenue is not None
    if is_purchase and event.revenue is not None and event.revenue < 0:
        _flush(pending, written)
        pending.append(_refund(programme, balance, event, order_id))
        return
    revenue = event.revenue if is_purchase and event.revenue is not None else Decimal(0)
    fixed = int(programme.event_points.get(event.name, 0))
    factor = multiplier_at(programme, event.occurred_at)
    raw = (revenue * programme.points_per_unit + fixed) * factor * tier_factor
    points = min(int(raw.to_integral_value(rounding=ROUND_FLOOR)), MAX_POINTS)
    details: dict[str, Any] = {"fixed": fixed, "factor": str(factor)}
    if tier_factor != 1:
        details["tier_factor"] = str(tier_factor)
    if revenue:
        details.update(revenue=str(revenue), per_unit=str(programme.points_per_unit))
    if programme.daily_cap is not None:
        _flush(pending, written)
        left = max(programme.daily_cap - _earned_on_day(programme, balance, event.occurred_at), 0)
        if points > left:
            details["capped_from"] = points
            points = left
    posted = entry_append(
        balance=balance,
        kind=EntryKind.EARN,
        points=points,
        idempotency_key=f"event:{event.id}",
        source_kind=SourceKind.ORDER if order_id and revenue else SourceKind.EVENT,
        source_id=order_id if order_id and revenue else str(event.id),
        reason=event.name,
        event_id=event.id,
        order_id=order_id if revenue else "",
        occurred_at=event.occurred_at,
        details=details,
        batch=True,
    )
    pending.append(posted.entry)


def multiplier_at(programme: Programme, moment: dt.datetime) -> Decimal:
    """The largest factor of the windows open at `moment` (windows do not compound),
    else 1. A window includes its start and excludes its end."""
    factors = [
        Decimal(window["factor"])
        for window in programme.multipliers
        if dt.datetime.fromisoformat(window["starts_at"])
        <= moment
        < dt.datetime.fromisoformat(window["ends_at"])
    ]
    return max(factors, default=Decimal(1))


def _earned_on_day(programme: Programme, balance: PointsBalance, moment: dt.datetime) -> int:
    """Points the contact earned on the day of `moment` in the workspace's time zone."""
    zone = zoneinfo.ZoneInfo(programme.workspace.time_zone or "UTC")
    day = moment.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    earned = LedgerEntry.objects.filter(
        workspace_id=balance.workspace_id,
        contact_id=balance.contact_id,
        kind=EntryKind.EARN,
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).aggregate(total=Sum("points"))["total"]
    return int(earned or 0)


def order_standing(
    *, workspace_id: int, contact_id: int, order_id: str
) -> tuple[int, int, Decimal, Decimal]:
    """(points the order earned, points taken back so far, its revenue, revenue
    refunded so far) from the contact's ledger."""
    earned = taken = 0
    revenue = refunded = Decimal(0)
    for entry in LedgerEntry.objects.filter(
        workspace_id=workspace_id, contact_id=contact_id, order_id=order_id
    ).only("kind", "points", "details"):
        if entry.kind == EntryKind.EARN:
            earned += entry.points
            revenue += Decimal(entry.details.get("revenue", "0"))
        elif entry.kind == EntryKind.REVERSE:
            taken -= entry.points
            taken += int(entry.details.get("uncollected", 0))
            refunded += Decimal(entry.details.get("refunded", "0"))
    return earned, taken, revenue, refunded


def _refund(
    programme: Programme, balance: PointsBalance, event: Candidate, order_id: str
) -> LedgerEntry:
    """A negative revenue for an order takes back the order's points in proportion to
    the revenue refunded so far (floored; all of them once the refunds reach the
    order's revenue), less what earlier refunds took."""
    assert event.revenue is not None
    earned, taken, revenue, refunded = order_standing(
        workspace_id=balance.workspace_id, contact_id=balance.contact_id, order_id=order_id
    )
    refunded += -event.revenue
    if revenue <= 0 or refunded >= revenue:
        target = earned
    else:
        target = math.floor(Decimal(earned) * refunded / revenue)
    posted = entry_append(
        balance=balance,
        kind=EntryKind.REVERSE,
        points=-max(target - taken, 0),
        idempotency_key=f"event:{event.id}",
        source_kind=SourceKind.ORDER,
        source_id=order_id,
        reason=f"refund of order {order_id}",
        event_id=event.id,
        order_id=order_id,
        occurred_at=event.occurred_at,
        details={"refunded": str(-event.revenue)},
        clamp=True,
        batch=True,
    )
    return posted.entry
