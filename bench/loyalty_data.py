"""A loyalty ledger for the benchmarks, built in SQL (INSERT ... SELECT generate_series,
no ORM loop): `entries` ledger entries over `members` contacts (ids first_id ..), each
contact's entries spread over the past year, every fifth a redemption of 50 points and
the others earning 100, so each entry's `balance_after` and the balance rows follow in
closed form (and satisfy the ledger's checks); a balance row per member."""

from __future__ import annotations

from typing import Any

# Entry i goes to contact i % members as its (i / members)-th entry (j). Through entry j a
# contact earned 100 * (j + 1 - r) and redeemed 50 * r, r = (j + 1) / 5 (integer division).
_ENTRIES_SQL = """
INSERT INTO loyalty_ledgerentry (workspace_id, contact_id, kind, points, balance_after,
    reason, source_kind, source_id, event_id, order_id, idempotency_key, occurred_at,
    created_at, details)
SELECT %(ws)s, %(first)s + (i %% %(members)s),
       CASE WHEN j %% 5 = 4 THEN 'redeem' ELSE 'earn' END,
       CASE WHEN j %% 5 = 4 THEN -50 ELSE 100 END,
       100 * (j + 1 - (j + 1) / 5) - 50 * ((j + 1) / 5),
       'bench', CASE WHEN j %% 5 = 4 THEN 'reward' ELSE 'event' END, '', NULL, '',
       'bench:' || i,
       at, at, '{}'::jsonb
FROM (SELECT i, i / %(members)s AS j,
             %(now)s - make_interval(secs => ((%(per)s - i / %(members)s) * 365.0 / %(per)s
                 - ((i * 7919) %% 1000) / 1000.0 * 365.0 / %(per)s) * 86400) AS at
      FROM generate_series(%(low)s::bigint, %(high)s::bigint - 1) AS i) s
"""

_BALANCES_SQL = """
INSERT INTO loyalty_pointsbalance (workspace_id, contact_id, balance, earned_total,
    redeemed_total, updated_at)
SELECT %(ws)s, contact_id, sum(points), sum(points) FILTER (WHERE kind = 'earn'),
       coalesce(-sum(points) FILTER (WHERE kind = 'redeem'), 0), %(now)s
FROM loyalty_ledgerentry WHERE workspace_id = %(ws)s
GROUP BY contact_id
"""


def build_ledger(
    cursor: Any,
    *,
    workspace_id: int,
    first_id: int,
    members: int,
    entries: int,
    now: Any,
    chunk: int = 1_000_000,
) -> None:
    """Insert the entries in chunks (one statement each: a bounded transaction log),
    then every member's balance row from them."""
    per = max(1, -(-entries // members))  # entries per contact, rounded up
    for low in range(0, entries, chunk):
        cursor.execute(
            _ENTRIES_SQL,
            {
                "ws": workspace_id,
                "first": first_id,
                "members": members,
                "per": per,
                "now": now,
                "low": low,
                "high": min(entries, low + chunk),
            },
        )
    cursor.execute(_BALANCES_SQL, {"ws": workspace_id, "now": now})
