"""A loyalty ledger for the benchmarks, built in SQL (INSERT ... SELECT generate_series,
no ORM loop): `entries` ledger entries over `members` contacts (ids first_id ..), each
contact's entries spread over the past year, every fifth a redemption of half a unit and
the others earning a unit, so each entry's `balance_after` and the balance rows follow
in closed form (and satisfy the ledger's checks); a balance row per member. The unit is
the contact's (by id: 40% earn 50 points an entry, 30% 100, 20% 250, 10% 500), so that
their windows reach the three bench tiers in those shares."""

from __future__ import annotations

from typing import Any

# Entry i goes to contact c = first + i % members as its (i / members)-th entry (j).
# Through entry j a contact of unit u earned u * (j + 1 - r) and redeemed u / 2 * r,
# r = (j + 1) / 5 (integer division).
_ENTRIES_SQL = """
INSERT INTO loyalty_ledgerentry (workspace_id, contact_id, kind, points, balance_after,
    reason, source_kind, source_id, event_id, order_id, idempotency_key, occurred_at,
    created_at, details)
SELECT %(ws)s, c,
       CASE WHEN j %% 5 = 4 THEN 'redeem' ELSE 'earn' END,
       CASE WHEN j %% 5 = 4 THEN -u / 2 ELSE u END,
       u * (j + 1 - (j + 1) / 5) - u / 2 * ((j + 1) / 5),
       'bench', CASE WHEN j %% 5 = 4 THEN 'reward' ELSE 'event' END, '', NULL, '',
       'bench:' || i,
       at, at, '{}'::jsonb
FROM (SELECT i, j, c, CASE WHEN c %% 10 < 4 THEN 50 WHEN c %% 10 < 7 THEN 100
                           WHEN c %% 10 < 9 THEN 250 ELSE 500 END AS u, at
      FROM (SELECT i, i / %(members)s AS j, %(first)s + (i %% %(members)s) AS c,
                   %(now)s - make_interval(secs => ((%(per)s - i / %(members)s) * 365.0
                       / %(per)s - ((i * 7919) %% 1000) / 1000.0 * 365.0 / %(per)s) * 86400)
                   AS at
            FROM generate_series(%(low)s::bigint, %(high)s::bigint - 1) AS i) g) s
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


# What the loyalty report's referral and tier figures read, at scale (bench/loyalty.py):
# every member's customer facts (CUSTOMER_SHARE of them customers, with revenue and a
# predicted CLV for most), three tiers with a tier row per member, the tier its points
# in the last 365 days reach (as the daily review leaves them: earning then moves only
# those a purchase lifts over a threshold), one recorded move per member in a tier, and
# `referrals` referrals (the friends are the last `referrals` contacts, brought by
# `referrers` distinct earlier contacts, statuses in fixed shares, signed up when the
# friend did and converted within 20 days for the converted kinds).
_FACTS_SQL = """
INSERT INTO analytics_customerfacts (contact_id, workspace_id, signup_at, signup_month,
    source, first_purchase_at, first_purchase_month, last_purchase_at, orders, purchases,
    revenue, predicted_clv, probability_alive, expected_purchases)
SELECT c.id, c.workspace_id, c.signed_up_at, date_trunc('month', c.signed_up_at)::date,
       'bench', p.at, date_trunc('month', p.at)::date, p.at,
       CASE WHEN p.at IS NULL THEN 0 ELSE 1 + c.id %% 4 END,
       CASE WHEN p.at IS NULL THEN 0 ELSE 1 + c.id %% 4 END,
       CASE WHEN p.at IS NULL THEN 0 ELSE 20 + (c.id * 37) %% 500 + (c.id %% 100) / 100.0 END,
       CASE WHEN p.at IS NULL OR c.id %% 7 = 0 THEN NULL
            ELSE 30 + (c.id * 53) %% 900 + (c.id %% 100) / 100.0 END,
       NULL, NULL
FROM contacts_contact c
CROSS JOIN LATERAL (
    SELECT CASE WHEN (c.id * 7919) %% 100 < %(share)s
                THEN least(%(now)s, c.signed_up_at + make_interval(days => (c.id %% 60)::int))
           END AS at) p
WHERE c.workspace_id = %(ws)s
"""

_TIERS_SQL = """
INSERT INTO loyalty_tier (workspace_id, name, threshold, benefits, multiplier, created_at,
    updated_at)
VALUES (%(ws)s, 'Silver', 500, '', 1, %(now)s, %(now)s),
       (%(ws)s, 'Gold', 1500, '', 1.5, %(now)s, %(now)s),
       (%(ws)s, 'Platinum', 3000, '', 2, %(now)s, %(now)s)
"""

_CONTACT_TIERS_SQL = """
WITH w AS (SELECT contact_id, sum(points) AS points FROM loyalty_ledgerentry
           WHERE workspace_id = %(ws)s AND kind IN ('earn', 'reverse')
             AND occurred_at >= %(now)s - interval '365 days'
           GROUP BY contact_id)
INSERT INTO loyalty_contacttier (workspace_id, contact_id, tier_id, since, points_in_window,
    evaluated_at, below_since)
SELECT %(ws)s, b.contact_id,
       (SELECT t.id FROM loyalty_tier t WHERE t.workspace_id = %(ws)s
          AND t.threshold <= coalesce(w.points, 0) ORDER BY t.threshold DESC LIMIT 1),
       %(now)s - make_interval(days => (b.contact_id %% 365)::int), coalesce(w.points, 0),
       %(now)s, NULL
FROM loyalty_pointsbalance b LEFT JOIN w ON w.contact_id = b.contact_id
WHERE b.workspace_id = %(ws)s
"""

_TIER_CHANGES_SQL = """
INSERT INTO loyalty_tierchange (workspace_id, contact_id, from_tier_id, to_tier_id,
    from_name, to_name, cause, points_in_window, at)
SELECT c.workspace_id, c.contact_id, NULL, c.tier_id, '', t.name, 'earned',
       c.points_in_window, c.since
FROM loyalty_contacttier c JOIN loyalty_tier t ON t.id = c.tier_id
WHERE c.workspace_id = %(ws)s
"""

_REFERRALS_SQL = """
INSERT INTO loyalty_referral (workspace_id, referrer_id, referred_id, code, visit_id,
    ip_hash, status, flags, created_at, converted_at, conversion_event_id, order_id,
    hold_until, referrer_rewarded, friend_rewarded, paid_at, reviewed_at, reviewed_by,
    reversed_at, details)
SELECT %(ws)s, %(first)s + ((k %% %(referrers)s) * 37) %% (%(members)s - %(n)s), c.id,
       'BENCH' || (k %% %(referrers)s), NULL, '',
       (ARRAY['rejected', 'flagged', 'pending', 'pending', 'pending', 'held', 'paid',
              'paid', 'converted', 'reversed'])[k %% 10 + 1],
       '[]'::jsonb, c.signed_up_at,
       CASE WHEN k %% 10 >= 5
            THEN least(%(now)s, c.signed_up_at + make_interval(days => (k %% 20)::int)) END,
       NULL, '', NULL, k %% 10 IN (6, 7), k %% 10 IN (6, 7), NULL, NULL, '', NULL, '{}'::jsonb
FROM generate_series(0, %(n)s - 1) AS k
JOIN contacts_contact c ON c.id = %(first)s + %(members)s - 1 - k
"""


def build_programme_figures(
    cursor: Any,
    *,
    workspace_id: int,
    first_id: int,
    members: int,
    referrals: int,
    referrers: int,
    customer_share: int,
    now: Any,
) -> None:
    """Customer facts, tiers with their members and moves, and referrals (above)."""
    params = {
        "ws": workspace_id,
        "first": first_id,
        "members": members,
        "n": min(referrals, members // 2),
        "referrers": max(1, referrers),
        "share": customer_share,
        "now": now,
    }
    for sql in (_FACTS_SQL, _TIERS_SQL, _CONTACT_TIERS_SQL, _TIER_CHANGES_SQL, _REFERRALS_SQL):
        cursor.execute(sql, params)
