"""Tiers: which tier each contact is in, from the points it earned (earn and reverse
entries, so net of refunds) in the last 12 months (TIER_WINDOW, by the entries'
`occurred_at`).

- Earning only ever moves a contact up (`tiers_evaluate(..., cause=EARNED)`, called by
  the earning hook in its transaction): a refund does not take a tier away at once.
- The scheduled review (`tiers_review`, daily by beat) moves contacts either way: up
  at once, down once their 12 months no longer reach their tier and the programme's
  grace period (`tier_grace_days`) has run since a review first found them below it
  (`ContactTier.below_since`; reaching the tier again clears it).
Every move is a TierChange row with its cause, written with the ContactTier change in
one transaction, under the contacts' tier rows' locks (taken after their balance
locks, in contact id order: the ledger's lock order)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.errors import Conflict, field_errors
from loyalty.hooks import TIER_CHANGED, LoyaltyNews, loyalty_news_notify
from loyalty.models import ContactTier, PointsBalance, Programme, Tier, TierCause, TierChange
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS
from loyalty.services.programme import FACTOR_PATTERN, decimal
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

TIER_WINDOW = dt.timedelta(days=365)
REVIEW_CHUNK = 1000
FIELDS = ("name", "threshold", "benefits", "multiplier")

_WINDOW_SQL = """
SELECT contact_id, coalesce(sum(points), 0) FROM loyalty_ledgerentry
WHERE workspace_id = %s AND contact_id = ANY(%s) AND kind IN ('earn', 'reverse')
  AND occurred_at > %s
GROUP BY contact_id
"""


def points_in_window(
    *, workspace_id: int, contact_ids: list[int], now: dt.datetime
) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(_WINDOW_SQL, [workspace_id, sorted(contact_ids), now - TIER_WINDOW])
        found = {int(contact): int(points) for contact, points in cursor.fetchall()}
    return {contact: found.get(contact, 0) for contact in contact_ids}


def _tier_for(tiers: list[Tier], points: int) -> Tier | None:
    """The highest tier whose threshold the points reach (tiers by threshold, high
    first)."""
    return next((tier for tier in tiers if points >= tier.threshold), None)


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.threshold


def _grace(workspace_id: int) -> dt.timedelta:
    days = (
        Programme.objects.filter(workspace_id=workspace_id)
        .values_list("tier_grace_days", flat=True)
        .first()
    )
    return dt.timedelta(days=days or 0)


def _should_move(
    row: ContactTier, target: Tier | None, cause: str, grace: dt.timedelta, now: dt.datetime
) -> bool:
    """Whether the contact moves to `target` now; keeps `row.below_since` (the grace
    period's start) up to date for a review."""
    if _rank(target) > _rank(row.tier):
        row.below_since = None
        return True
    if cause != TierCause.REVIEW:
        return False
    if _rank(target) == _rank(row.tier):
        row.below_since = None
        return False
    row.below_since = row.below_since or now
    return now - row.below_since >= grace


def tiers_evaluate(
    *, workspace_id: int, contact_ids: list[int], cause: str, now: dt.datetime | None = None
) -> int:
    """Put the contacts in the tier their last 12 months reach (only up when the cause
    is earning; down after the grace period at a review); returns how many moved. Call
    inside a transaction; tells the hooks of the moves in it."""
    tiers = list(Tier.objects.filter(workspace_id=workspace_id).order_by("-threshold"))
    if not tiers or not contact_ids:
        return 0
    now = now or timezone.now()
    grace = _grace(workspace_id) if cause == TierCause.REVIEW else dt.timedelta()
    ids = sorted(set(contact_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO loyalty_contacttier
                   (workspace_id, contact_id, tier_id, since, points_in_window, evaluated_at)
               SELECT %s, c, NULL, %s, 0, %s FROM unnest(%s::bigint[]) AS c
               ON CONFLICT (workspace_id, contact_id) DO NOTHING""",
            [workspace_id, now, now, ids],
        )
    rows = {
        row.contact_id: row
        for row in ContactTier.objects.select_for_update(of=("self",))
        .filter(workspace_id=workspace_id, contact_id__in=ids)
        .select_related("tier")
        .order_by("contact_id")
    }
    points = points_in_window(workspace_id=workspace_id, contact_ids=ids, now=now)
    news: list[LoyaltyNews] = []
    for contact_id in ids:
        row, target = rows[contact_id], _tier_for(tiers, points[contact_id])
        row.points_in_window, row.evaluated_at = points[contact_id], now
        fields = ["points_in_window", "evaluated_at", "below_since"]
        if _should_move(row, target, cause, grace, now):
            change = TierChange.objects.create(
                workspace_id=workspace_id,
                contact_id=contact_id,
                from_tier=row.tier,
                to_tier=target,
                from_name=row.tier.name if row.tier else "",
                to_name=target.name if target else "",
                cause=cause,
                points_in_window=points[contact_id],
                at=now,
            )
            news.append(
                LoyaltyNews(
                    kind=TIER_CHANGED,
                    workspace_id=workspace_id,
                    contact_id=contact_id,
                    key=f"tier:{change.pk}",
                    at=now,
                    points=points[contact_id],
                    tier_id=target.pk if target else None,
                    from_tier_id=row.tier.pk if row.tier else None,
                    up=_rank(target) > _rank(row.tier),
                )
            )
            row.tier, row.since, row.below_since = target, now, None
            fields += ["tier", "since"]
        row.save(update_fields=fields)
    loyalty_news_notify(news)
    return len(news)


def tiers_review(*, workspace_id: int, now: dt.datetime | None = None) -> int:
    """The scheduled review of a workspace: every contact with points or a tier, in
    chunks of REVIEW_CHUNK contacts, one transaction each (safe to run twice: a second
    run moves nobody)."""
    now = now or timezone.now()
    moved, after = 0, 0
    while True:
        chunk = list(
            PointsBalance.objects.filter(workspace_id=workspace_id, contact_id__gt=after)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)[:REVIEW_CHUNK]
        )
        if not chunk:
            return moved
        with transaction.atomic():
            moved += tiers_evaluate(
                workspace_id=workspace_id, contact_ids=chunk, cause=TierCause.REVIEW, now=now
            )
        after = chunk[-1]


def tiers_review_due(*, now: dt.datetime | None = None) -> int:
    """Review every workspace that has tiers (beat, daily)."""
    workspaces = Tier.objects.values_list("workspace_id", flat=True).distinct()
    return sum(tiers_review(workspace_id=w, now=now) for w in sorted(set(workspaces)))


def _apply(tier: Tier, data: dict[str, Any]) -> None:
    errors: Errors = {}
    unknown(data, FIELDS, errors)
    for field, limit, required in (("name", 200, True), ("benefits", 1000, False)):
        if field in data:
            value = text(data[field], field, errors, limit=limit, required=required)
            if value is not None:
                setattr(tier, field, value)
    if "multiplier" in data:
        factor = decimal(
            data["multiplier"],
            "multiplier",
            errors,
            pattern=FACTOR_PATTERN,
            says='a number from 1 to 10 as a string, at most 2 decimals ("1.5")',
        )
        if factor is not None:
            tier.multiplier = factor
    if "threshold" in data:
        threshold = whole(data["threshold"], "threshold", errors, low=0, high=MAX_POINTS)
        if threshold is not None:
            tier.threshold = threshold
    for field in ("name", "threshold"):
        if field not in data and not tier.pk and field not in errors:
            errors[field] = ["is required"]
    if errors:
        raise field_errors(errors)


@transaction.atomic
def tier_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Tier:
    """A new tier. Contacts reach it as they earn, or at the next review."""
    tier = Tier(workspace=workspace, name="", threshold=0)
    _apply(tier, data)
    save_or_conflict(
        tier, "A tier with this name or threshold exists.", fields=("name", "threshold")
    )
    audit_record(
        workspace=workspace,
        action="loyalty.tier_created",
        actor=actor,
        object_type="loyalty_tier",
        object_id=tier.pk,
    )
    return tier


@transaction.atomic
def tier_update(*, tier: Tier, data: dict[str, Any], actor: Actor) -> Tier:
    _apply(tier, data)
    tier.updated_at = timezone.now()
    save_or_conflict(
        tier,
        "A tier with this name or threshold exists.",
        fields=("name", "threshold"),
        update_fields=[f for f in FIELDS if f in data] + ["updated_at"],
    )
    audit_record(
        workspace=tier.workspace,
        action="loyalty.tier_updated",
        actor=actor,
        object_type="loyalty_tier",
        object_id=tier.pk,
        details={"fields": sorted(data)},
    )
    return tier


@transaction.atomic
def tier_delete(*, tier: Tier, actor: Actor) -> None:
    """Delete a tier nobody is in (409 otherwise: the review moves them out first
    once its threshold is raised out of reach). A contact moved into it meanwhile by
    earning is left without a tier until the next review."""
    if ContactTier.objects.filter(workspace_id=tier.workspace_id, tier=tier).exists():
        raise Conflict(
            "Contacts are in this tier.", fields={"threshold": ["contacts are in this tier"]}
        )
    audit_record(
        workspace=tier.workspace,
        action="loyalty.tier_deleted",
        actor=actor,
        object_type="loyalty_tier",
        object_id=tier.pk,
        details={"name": tier.name},
    )
    tier.delete()
