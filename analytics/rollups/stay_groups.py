"""The stay counts by the contacts' source and signup month (StayGroupCount): what time
in stage, conversion and churn read for a source or signup-month filter instead of
every stay of the contacts kept (the definition, still read for a segment and by the
tests).

Every stay counts in the three counts of the whole workspace (StayLength,
ConversionDay, ChurnCover) and once more here under its contact's group in the facts,
(source, signup month), or none without facts yet. `STAY_COUNTS` gives what some
stays count in all of them, as tagged rows; the writers move the counts by what the
stays they delete and write count (rollups/stages.py `stays_refresh`), and by what a
changed `cover_from` counts (churn_cover.py), each stay under the group it carries
(written from the facts with the stay, after the contacts' coverage locks, as the
moves by group: flow_groups.py). The engine's
facts refresh, which may change a contact's group, writes the new group on those
contacts' stays and moves every count of theirs from the old group to the new one,
after the same locks and in the transaction that writes the facts
(`stay_groups_regroup`), before it writes the stays' `cover_from` again. So the rows
here are, at any moment, the stays' counts under their contacts' groups now (the drift
check compares them with the stays; the stays' groups are compared with the facts by
the stays' own check)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from analytics.rollups.conversion import CONVERSION_DAY, CONVERSION_DAYS, COVER_COUNTS, COVER_TO
from analytics.rollups.replace import sums_replace

# The contacts among %(ids)s whose group in the facts now differs from the one before
# (%(source)s, %(month)s: changed_params): (contact_id, old_source, old_month).
CHANGED = """
    (SELECT o.contact_id, o.source AS old_source, o.signup_month AS old_month
     FROM unnest(%(ids)s::bigint[], %(source)s::text[], %(month)s::date[])
          AS o(contact_id, source, signup_month)
     LEFT JOIN analytics_customerfacts f ON f.contact_id = o.contact_id
     WHERE (o.source, o.signup_month)
           IS DISTINCT FROM (coalesce(f.source, ''), f.signup_month))"""


def changed_params(
    contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> dict[str, list]:
    ids = sorted(contact_ids)
    old = [before.get(i, ("", None)) for i in ids]
    return {"ids": ids, "source": [g[0] for g in old], "month": [g[1] for g in old]}


def regrouped_contacts(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> list[int]:
    """Of these contacts, those whose facts (just written) put them in another group
    than `before`: the only ones the regroups below have anything to move for."""
    cursor.execute(f"SELECT contact_id FROM {CHANGED} c", changed_params(contact_ids, before))
    return [row[0] for row in cursor.fetchall()]


# StayLength's key of a stay row `s` (joined to its workspace `w`): ended stays by the
# local day they ended and the whole days they lasted, open ones by the day they began.
LENGTH_DAY = "(coalesce(s.left_at, s.entered_at) AT TIME ZONE w.time_zone)::date"
LENGTH_DAYS = "coalesce(floor(extract(epoch FROM s.left_at - s.entered_at) / 86400)::int, 0)"
LENGTH_KEY = (
    f"s.workspace_id, s.stage_id, s.left_at IS NULL AS open, {LENGTH_DAY} AS day, "
    f"{LENGTH_DAYS} AS days"
)

# A stay's group: the one it carries (Stay.source, Stay.signup_month), written from its
# contact's facts with the stay and kept with them by the regroup.
GROUP_NOW = "s.source, s.signup_month"

# What the stays `s` of `{stays}` (rows with the stay columns) count, as tagged rows:
# (kind, workspace, stage, open, next stage, day, days, until, source, signup month,
# stays). `{group}` is their group (GROUP_NOW, or old columns). Three grouped passes:
# measured at 1M faster than one pass unpivoting each stay into its three rows (15 s
# against 29 s: the per-row VALUES evaluation costs more than reading the stays twice
# more).
_COUNTS = f"""
SELECT 'length', s.workspace_id, s.stage_id, s.left_at IS NULL, NULL::bigint, {LENGTH_DAY},
       {LENGTH_DAYS}, NULL::date, {{group}}, {{sign}}count(*)
FROM {{stays}} JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE {{where}} GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
UNION ALL
SELECT 'conversion', s.workspace_id, s.stage_id, NULL::bool, s.next_stage_id, {CONVERSION_DAY},
       {CONVERSION_DAYS}, NULL::date, {{group}}, {{sign}}count(*)
FROM {{stays}} JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE s.first_entry AND {{where}} GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
UNION ALL
SELECT 'cover', s.workspace_id, s.stage_id, NULL::bool, NULL::bigint, s.cover_from, NULL::int,
       {COVER_TO}, {{group}}, {{sign}}count(*)
FROM {{stays}} JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE {COVER_COUNTS} AND {{where}} GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10
"""


def stay_counts_sql(
    stays: str, *, sign: str = "", where: str = "true", group: str = GROUP_NOW
) -> str:
    """The tagged counts of the stays `s` that `stays` (a FROM item) gives."""
    return _COUNTS.format(stays=stays, sign=sign, where=where, group=group)


_KEY = "workspace_id, kind, source, signup_month, stage_id, open, next_stage_id, day, days, until"
_APPLY = f"""
INSERT INTO analytics_staygroupcount AS c ({_KEY}, stays)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::date[], %s::bigint[],
                     %s::bool[], %s::bigint[], %s::date[], %s::int[], %s::date[], %s::int[])
ON CONFLICT ({_KEY}) DO UPDATE SET stays = c.stays + EXCLUDED.stays
"""


def by_group(change: dict[tuple, int]) -> dict[tuple, int]:
    """Tagged differences (as STAY_COUNTS rows) keyed as this table."""
    out: dict[tuple, int] = {}
    for (kind, ws, stage, open_, next_stage, day, days, until, source, month), n in change.items():
        key = (ws, kind, source, month, stage, open_, next_stage, day, days, until)
        out[key] = out.get(key, 0) + n
    return out


def stay_groups_apply(cursor: Any, change: dict[tuple, int]) -> None:
    """Move the counts by tagged differences, in key order (NULLs last, as the unique
    index), after the three counts they go with."""
    rows = sorted(
        ((*key, n) for key, n in by_group(change).items() if n),
        key=lambda r: tuple((v is None, v) for v in r[:10]),
    )
    if rows:
        cursor.execute(_APPLY, [list(column) for column in zip(*rows, strict=True)])


def stay_groups_regroup(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> dict[tuple, int]:
    """The facts of these contacts were written: what moving the counts of the stays
    of those whose group changed from the group `before` (flow_groups.groups_of, read
    before the facts were written) to the one the facts say now takes, as tagged
    differences for stay_groups_apply (which churn_cover_refresh applies with its own,
    so the table is written once, after the cover). The caller holds their coverage
    locks."""
    params = changed_params(contact_ids, before)
    cursor.execute(  # the group the stays carry first (Stay.source, Stay.signup_month)
        "UPDATE analytics_stay s SET source = coalesce(g.source, ''), "
        f"signup_month = g.signup_month FROM {CHANGED} c "
        "LEFT JOIN analytics_customerfacts g ON g.contact_id = c.contact_id "
        "WHERE s.contact_id = c.contact_id",
        params,
    )
    stays = f"{CHANGED} c JOIN analytics_stay s ON s.contact_id = c.contact_id"
    now = stay_counts_sql(stays)
    then = stay_counts_sql(stays, sign="-", group="c.old_source, c.old_month")
    cursor.execute(f"{now} UNION ALL {then}", params)
    change: dict[tuple, int] = {}
    for *key, n in cursor.fetchall():
        change[tuple(key)] = change.get(tuple(key), 0) + n
    return change


_EXPECTED = f"""
SELECT workspace_id, kind, source, signup_month, stage_id, open, next_stage_id, day, days,
       until, stays
FROM ({stay_counts_sql("analytics_stay s", where="s.workspace_id = %(ws)s")})
     AS x(kind, workspace_id, stage_id, open, next_stage_id, day, days, until, source,
          signup_month, stays)
"""


def stay_groups_compare(*, workspace_id: int) -> tuple[int, int]:
    """The counts against the stays they count and their contacts' facts (written in
    the same transactions: exact at any moment): (rows compared, rows differing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH expected AS ({_EXPECTED}), stored AS (SELECT {_KEY}, stays::bigint "
            "FROM analytics_staygroupcount WHERE workspace_id = %(ws)s AND stays <> 0), "
            "differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored) "
            "UNION ALL (SELECT * FROM stored EXCEPT SELECT * FROM expected)) "
            f"SELECT (SELECT count(*) FROM expected), (SELECT count(*) FROM (SELECT DISTINCT "
            f"{_KEY} FROM differing) d)",
            {"ws": workspace_id},
        )
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def stay_groups_recompute(*, workspace_id: int) -> None:
    """Count the stays again under their groups (after the facts). The caller holds
    the workspace's rollups exclusively."""
    with connection.cursor() as cursor:
        sums_replace(
            cursor,
            table="analytics_staygroupcount",
            columns=[*_KEY.split(", "), "stays"],
            select=_EXPECTED,
            params={"ws": workspace_id},
            workspace_id=workspace_id,
            counted="stays <> 0",
        )
