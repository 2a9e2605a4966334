"""The points ledger: every change of a contact's points is one appended entry, written
in the transaction that updates the contact's balance under its row lock.

1. `balance_lock` makes the contact's balance row exist (INSERT ... ON CONFLICT DO
   NOTHING) and locks it (SELECT ... FOR UPDATE): every writer of one contact's points
   waits its turn here, so two redemptions never both spend the same points.
2. Under that lock, an entry whose idempotency key is already in the ledger is
   returned as it is (a retry), not written again; a key used for another contact is
   a 409.
3. The new balance is checked (never below zero: the service refuses, and the table's
   check constraint backs it up), the entry appended and the balance updated.

Locks are always taken balance first (in contact id order when there are several),
then a reward (services/redemptions.py), so writers never wait on each other in a
circle."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict
from loyalty.models import EntryKind, LedgerEntry, PointsBalance

MAX_POINTS = 1_000_000_000


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    created: bool  # False: the idempotency key was in the ledger already (a retry)


def balance_lock(*, workspace_id: int, contact_id: int) -> PointsBalance:
    """The contact's balance row, created if missing, locked until the transaction
    ends. Call inside a transaction."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO loyalty_pointsbalance
                   (workspace_id, contact_id, balance, earned_total, redeemed_total, updated_at)
               VALUES (%s, %s, 0, 0, 0, %s) ON CONFLICT (workspace_id, contact_id) DO NOTHING""",
            [workspace_id, contact_id, now],
        )
    return PointsBalance.objects.select_for_update().get(
        workspace_id=workspace_id, contact_id=contact_id
    )


def _balances_create(cursor: Any, workspace_id: int, ids: list[int]) -> None:
    cursor.execute(
        """INSERT INTO loyalty_pointsbalance
               (workspace_id, contact_id, balance, earned_total, redeemed_total, updated_at)
           SELECT %s, c, 0, 0, 0, %s FROM unnest(%s::bigint[]) AS c
           ON CONFLICT (workspace_id, contact_id) DO NOTHING""",
        [workspace_id, timezone.now(), ids],
    )


def balances_lock_rows(*, workspace_id: int, contact_ids: list[int]) -> None:
    """`balances_lock` for a writer that changes the rows in SQL: the rows exist and are
    locked, in the same order, and nothing is read back."""
    ids = sorted(set(contact_ids))
    with connection.cursor() as cursor:
        _balances_create(cursor, workspace_id, ids)
        cursor.execute(
            "SELECT 1 FROM loyalty_pointsbalance WHERE workspace_id = %s"
            " AND contact_id = ANY(%s::bigint[]) ORDER BY contact_id FOR UPDATE",
            [workspace_id, ids],
        )


def balances_lock(
    *, workspace_id: int, contact_ids: list[int], with_tier: bool = False
) -> dict[int, PointsBalance]:
    """`balance_lock` for many contacts in two statements, locked in contact id order
    (the ledger's lock order). `with_tier`: each row also carries `tier_multiplier`, its
    contact's tier's earning multiplier (None without a tier), read in the same
    statement (earning needs both; the tier row is not locked)."""
    ids = sorted(set(contact_ids))
    with connection.cursor() as cursor:
        _balances_create(cursor, workspace_id, ids)
    # `= ANY(array)`: one parameter, where `__in` writes (and the driver parses) a
    # placeholder per contact.
    tier = (
        ", t.multiplier AS tier_multiplier FROM loyalty_pointsbalance b"
        " LEFT JOIN loyalty_contacttier c"
        " ON c.workspace_id = b.workspace_id AND c.contact_id = b.contact_id"
        " LEFT JOIN loyalty_tier t ON t.workspace_id = c.workspace_id AND t.id = c.tier_id"
        if with_tier
        else " FROM loyalty_pointsbalance b"
    )
    return {
        row.contact_id: row
        for row in PointsBalance.objects.raw(
            f"SELECT b.*{tier} WHERE b.workspace_id = %s"
            " AND b.contact_id = ANY(%s::bigint[]) ORDER BY b.contact_id FOR UPDATE OF b",
            [workspace_id, ids],
        )
    }


def entry_for_key(*, workspace_id: int, idempotency_key: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(
        workspace_id=workspace_id, idempotency_key=idempotency_key
    ).first()


def entry_append(
    *,
    balance: PointsBalance,
    kind: str,
    points: int,
    idempotency_key: str,
    source_kind: str,
    source_id: str = "",
    reason: str = "",
    event_id: int | None = None,
    order_id: str = "",
    occurred_at: dt.datetime | None = None,
    details: dict[str, Any] | None = None,
    clamp: bool = False,
    batch: bool = False,
) -> Posted:
    """Append an entry for the contact of `balance`, which the caller has locked with
    `balance_lock` in the current transaction. A debit beyond the balance is refused
    (409 on `points`), or with `clamp` (a reversal, an expiry) cut to the balance, the
    part not taken recorded in `details["uncollected"]`.

    `batch` (the earning hook, which read only events without an entry and holds their
    contacts): the key is not looked up first, and neither the entry nor the balance
    row is saved: the caller inserts its entries together (a duplicate key fails the
    whole batch, which the engine offers again) before anything reads them, and saves
    the balances together (`balances_save`)."""
    assert connection.in_atomic_block, "entry_append runs under the balance's lock"
    existing = (
        None
        if batch
        else entry_for_key(workspace_id=balance.workspace_id, idempotency_key=idempotency_key)
    )
    if existing is not None:
        if existing.contact_id != balance.contact_id:
            raise Conflict(
                "This idempotency key was used for another contact.",
                fields={"idempotency_key": ["used for another contact"]},
            )
        return Posted(existing, created=False)
    details = dict(details or {})
    if balance.balance + points < 0:
        if not clamp:
            raise Conflict(
                f"The contact has {balance.balance} points.",
                fields={"points": [f"more than the balance ({balance.balance})"]},
            )
        details["uncollected"] = -(balance.balance + points)
        points = -balance.balance
    now = timezone.now()
    entry = LedgerEntry(
        workspace_id=balance.workspace_id,
        contact_id=balance.contact_id,
        kind=kind,
        points=points,
        balance_after=balance.balance + points,
        reason=reason[:500],
        source_kind=source_kind,
        source_id=source_id[:200],
        event_id=event_id,
        order_id=order_id[:200],
        idempotency_key=idempotency_key,
        occurred_at=occurred_at or now,
        created_at=now,
        details=details,
    )
    if batch:
        _count(balance, entry)
        return Posted(entry, created=True)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        # The same key written for another contact meanwhile (the key is per workspace;
        # this contact's writers are serialised by the lock, so it is not a retry).
        raise Conflict(
            "This idempotency key was used for another contact.",
            fields={"idempotency_key": ["used for another contact"]},
        ) from None
    _count(balance, entry)
    balance_save(balance)
    return Posted(entry, created=True)


def _count(balance: PointsBalance, entry: LedgerEntry) -> None:
    kind, points = entry.kind, entry.points
    balance.balance += points
    # Earned net of reversals; adjustments are neither earned nor redeemed.
    if kind in (EntryKind.EARN, EntryKind.REVERSE):
        balance.earned_total += points
    elif kind == EntryKind.REDEEM:
        balance.redeemed_total -= points
    # Activity (what expiry counts from) is earning or spending; an adjustment, a
    # refund or an expiry is not the contact doing anything.
    if kind in (EntryKind.EARN, EntryKind.REDEEM) and (
        balance.last_activity_at is None or entry.occurred_at > balance.last_activity_at
    ):
        balance.last_activity_at = entry.occurred_at
    balance.updated_at = entry.created_at


BALANCE_FIELDS = ["balance", "earned_total", "redeemed_total", "updated_at", "last_activity_at"]

_ENTRY_COLUMNS = (
    "workspace_id",
    "contact_id",
    "kind",
    "points",
    "balance_after",
    "reason",
    "source_kind",
    "source_id",
    "event_id",
    "order_id",
    "idempotency_key",
    "occurred_at",
    "created_at",
    "details",
)
_ENTRIES_INSERT_SQL = """
INSERT INTO loyalty_ledgerentry (workspace_id, contact_id, kind, points, balance_after, reason,
    source_kind, source_id, event_id, order_id, idempotency_key, occurred_at, created_at,
    details)
SELECT * FROM json_to_recordset(%s::json) AS v(workspace_id bigint, contact_id bigint,
    kind varchar, points bigint, balance_after bigint, reason varchar, source_kind varchar,
    source_id varchar, event_id bigint, order_id varchar, idempotency_key varchar,
    occurred_at timestamptz, created_at timestamptz, details jsonb)
RETURNING id, idempotency_key
"""


def _json_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()  # to the microsecond (DjangoJSONEncoder cuts to ms)
    raise TypeError(f"{type(value).__name__} is not JSON")


def entries_insert(entries: list[LedgerEntry]) -> None:
    """Insert entries built by `entry_append(..., batch=True)` in one statement whose one
    parameter is the rows as JSON (a thousand rows: far less client work than
    bulk_create's fourteen thousand parameters), and give each its id. A key already in
    the ledger fails the statement."""
    if not entries:
        return
    rows = [{name: getattr(entry, name) for name in _ENTRY_COLUMNS} for entry in entries]
    with connection.cursor() as cursor:
        cursor.execute(_ENTRIES_INSERT_SQL, [json.dumps(rows, default=_json_value)])
        ids = {key: pk for pk, key in cursor.fetchall()}
    for entry in entries:
        entry.pk = ids[entry.idempotency_key]
        entry._state.adding, entry._state.db = False, "default"


def balance_save(balance: PointsBalance) -> None:
    balance.save(update_fields=BALANCE_FIELDS)


def balances_save(balances: list[PointsBalance]) -> None:
    """Save locked balances in one statement whose one parameter is the rows as JSON
    (far cheaper than bulk_update's CASE per column, or an array per column, for a
    thousand rows)."""
    if not balances:
        return
    rows = [
        {
            "id": b.pk,
            "balance": b.balance,
            "earned": b.earned_total,
            "redeemed": b.redeemed_total,
            "at": b.updated_at,
            "active": b.last_activity_at,
        }
        for b in balances
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE loyalty_pointsbalance b
               SET balance = v.balance, earned_total = v.earned, redeemed_total = v.redeemed,
                   updated_at = v.at, last_activity_at = v.active
               FROM json_to_recordset(%s::json) AS v(id bigint, balance bigint, earned bigint,
                    redeemed bigint, at timestamptz, active timestamptz)
               WHERE b.id = v.id""",
            [json.dumps(rows, default=_json_value)],
        )
