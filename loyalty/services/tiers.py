"""Tiers: which tier each contact is in, from what it did over the workspace's rolling
window (`Programme.tier_window_days`, 365 by default): the points it earned (earn and
reverse entries, so net of refunds) or the money it spent (purchase revenue net of
refunds), as `Programme.tier_basis` says (selectors_tiers.py measures both).

- Earning only ever moves a contact up (`tiers_evaluate(..., cause=EARNED)`, called by
  the earning hook in its transaction): a refund does not take a tier away at once.
- The scheduled review (`tiers_review`, daily by beat, tiers_review.py) moves contacts
  either way: up at once, down once their window no longer reaches their tier and the programme's
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

from config.errors import field_errors
from loyalty.hooks import TIER_CHANGED, LoyaltyNews, loyalty_news_notify
from loyalty.models import ContactTier, Tier, TierCause, TierChange
from loyalty.selectors_tiers import tier_measure, tier_rule_for
from loyalty.services.checks import Errors, text, unknown, whole
from loyalty.services.ledger import MAX_POINTS
from loyalty.services.programme import FACTOR_PATTERN, decimal
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

FIELDS = ("name", "threshold", "benefits", "multiplier")


def _tier_for(tiers: list[Tier], points: int) -> Tier | None:
    """The highest tier whose threshold the points reach (tiers by threshold, high
    first)."""
    return next((tier for tier in tiers if points >= tier.threshold), None)


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.threshold


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


def _may_move_up(
    workspace_id: int, ids: list[int], tiers: list[Tier], points: dict[int, int]
) -> list[int]:
    """Of the contacts, those whose window reaches a tier above the one they hold (read
    without locks; the locked rows are looked at again): only they are written to when
    earning, which never moves anyone down."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.contact_id, t.threshold FROM loyalty_contacttier c"
            " JOIN loyalty_tier t ON t.workspace_id = c.workspace_id AND t.id = c.tier_id"
            " WHERE c.workspace_id = %s AND c.contact_id = ANY(%s::bigint[])",
            [workspace_id, ids],
        )
        held: dict[int, int] = dict(cursor.fetchall())
    return [
        contact_id
        for contact_id in ids
        if _rank(_tier_for(tiers, points[contact_id])) > held.get(contact_id, -1)
    ]


def tiers_evaluate(
    *, workspace_id: int, contact_ids: list[int], cause: str, now: dt.datetime | None = None
) -> int:
    """Put the contacts in the tier their window reaches (only up when the cause is
    earning; down after the grace period at a review); returns how many moved. Call
    inside a transaction; tells the hooks of the moves in it.

    A review rewrites every contact's tier row (its window's points, `below_since`).
    Earning writes only the rows of the contacts its points lift to a higher tier: a
    batch of a thousand purchases moves few, and rewriting every row was most of
    the cost of tiers on ingest (the others' `points_in_window` stays as of their last
    move or review; the balance API and the member page measure the window live)."""
    tiers = list(Tier.objects.filter(workspace_id=workspace_id).order_by("-threshold"))
    if not tiers or not contact_ids:
        return 0
    now = now or timezone.now()
    rule = tier_rule_for(workspace_id=workspace_id)
    grace = dt.timedelta(days=rule.grace_days if cause == TierCause.REVIEW else 0)
    ids = sorted(set(contact_ids))
    # Measured before the tier rows are locked, as before it was taken under them: what
    # the window holds is guarded by the balance locks of whoever writes the ledger.
    points = tier_measure(workspace_id=workspace_id, contact_ids=ids, rule=rule, now=now)
    if cause != TierCause.REVIEW:
        ids = _may_move_up(workspace_id, ids, tiers, points)
        if not ids:
            return 0
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
    moves: list[tuple[ContactTier, Tier | None]] = []
    for contact_id in ids:
        row, target = rows[contact_id], _tier_for(tiers, points[contact_id])
        row.points_in_window = points[contact_id]
        if _should_move(row, target, cause, grace, now):
            moves.append((row, target))
    changes = TierChange.objects.bulk_create(
        TierChange(
            workspace_id=workspace_id,
            contact_id=row.contact_id,
            from_tier=row.tier,
            to_tier=target,
            from_name=row.tier.name if row.tier else "",
            to_name=target.name if target else "",
            cause=cause,
            points_in_window=row.points_in_window,
            at=now,
        )
        for row, target in moves
    )
    news = [
        LoyaltyNews(
            kind=TIER_CHANGED,
            workspace_id=workspace_id,
            contact_id=row.contact_id,
            key=f"tier:{change.pk}",
            at=now,
            points=row.points_in_window,
            tier_id=target.pk if target else None,
            from_tier_id=row.tier.pk if row.tier else None,
            up=_rank(target) > _rank(row.tier),
        )
        for change, (row, target) in zip(changes, moves, strict=True)
    ]
    for row, target in moves:
        row.tier, row.since, row.below_since = target, now, None
    # Every row in one statement (one UPDATE per contact made earning a batch of a
    # thousand purchases half as slow again).
    ordered = [rows[contact_id] for contact_id in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE loyalty_contacttier t
                  SET points_in_window = v.points, evaluated_at = %s, below_since = v.below,
                      tier_id = v.tier, since = v.since
                 FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::bigint[],
                             %s::timestamptz[]) AS v(contact_id, points, below, tier, since)
                WHERE t.workspace_id = %s AND t.contact_id = v.contact_id""",
            [
                now,
                ids,
                [r.points_in_window for r in ordered],
                [r.below_since for r in ordered],
                [r.tier_id for r in ordered],
                [r.since for r in ordered],
                workspace_id,
            ],
        )
    loyalty_news_notify(news)
    return len(news)


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
def tier_delete(*, tier: Tier, actor: Actor, now: dt.datetime | None = None) -> int:
    """Delete a tier; its members move at once to the tier below it (the highest tier
    with a lower threshold; none when it was the lowest), each move a TierChange with
    cause `removed` told to the hooks. The next review places them by their window as
    usual (a member who reaches no lower tier goes out of it after the grace period).
    Returns how many members moved. A contact moved into the tier by an earning running
    at the same moment is left without a tier until the next review."""
    now = now or timezone.now()
    ws = tier.workspace_id
    below = (
        Tier.objects.filter(workspace_id=ws, threshold__lt=tier.threshold)
        .order_by("-threshold")
        .first()
    )
    # The tier rows' locks in contact id order, as every tier evaluation takes them.
    members = list(
        ContactTier.objects.select_for_update()
        .filter(workspace_id=ws, tier=tier)
        .order_by("contact_id")
    )
    changes = TierChange.objects.bulk_create(
        [
            TierChange(
                workspace_id=ws,
                contact_id=row.contact_id,
                from_tier=tier,
                to_tier=below,
                from_name=tier.name,
                to_name=below.name if below else "",
                cause=TierCause.REMOVED,
                points_in_window=row.points_in_window,
                at=now,
            )
            for row in members
        ],
        batch_size=1000,
    )
    ContactTier.objects.filter(pk__in=[row.pk for row in members]).update(
        tier=below, since=now, below_since=None
    )
    loyalty_news_notify(
        [
            LoyaltyNews(
                kind=TIER_CHANGED,
                workspace_id=ws,
                contact_id=change.contact_id,
                key=f"tier:{change.pk}",
                at=now,
                points=change.points_in_window,
                tier_id=below.pk if below else None,
                from_tier_id=tier.pk,
                up=False,
            )
            for change in changes
        ]
    )
    audit_record(
        workspace=tier.workspace,
        action="loyalty.tier_deleted",
        actor=actor,
        object_type="loyalty_tier",
        object_id=tier.pk,
        details={
            "name": tier.name,
            "members_moved": len(members),
            "moved_to": below.name if below else "",
        },
    )
    tier.delete()
    return len(members)
