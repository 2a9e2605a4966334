"""What the conversion figures need, kept with the stays (rollups/stages.py): each stay
row says whether it is its contact's first-ever entry into the stage and, for such an
entry, the funnel's next stage and the contact's first entry into that at or after it;
ConversionDay counts those entries per (stage, next stage, local day, whole days to
convert), moved by the difference of the stays a refresh deletes and writes (as the
stay lengths).

The funnel path (figures/stages.py `funnel_path`: the stages in reverse evaluation
order, the default first, without the churned and at-risk stages) is read when a stay
is written. A change of stages or of the churn settings leaves rows keyed by the old
path: the figures see them (`conversion_rows_current`) and read the stays until the
next rebuild writes every stay again."""

from __future__ import annotations

from typing import Any

from django.db import connection

from analytics.rollups.replace import sums_replace

# (stage_id, next_stage_id) of every stage of the workspaces `{where}` keeps: the next
# stage on the funnel path, none for the last one and for a stage off the path.
PATH_SQL = """
SELECT s.id AS stage_id, p.next_stage_id
FROM lifecycle_stage s
LEFT JOIN (
    SELECT s.id, lead(s.id) OVER (PARTITION BY s.workspace_id
                                  ORDER BY s.is_default DESC, s.position DESC, s.id DESC)
               AS next_stage_id
    FROM lifecycle_stage s
    LEFT JOIN analytics_analyticssettings a ON a.workspace_id = s.workspace_id
    WHERE {where} AND s.archived_at IS NULL
      AND s.key <> coalesce(a.churned_stage_key, 'lapsed')
      AND s.key <> coalesce(a.at_risk_stage_key, 'at_risk')
) p ON p.id = s.id
WHERE {where}
"""

# A contact's stays from its moves, with the conversion columns. `converted_at` is
# looked up per first entry on the path (a refresh writes a few contacts).
STAY_COLUMNS = (
    "contact_id, workspace_id, stage_id, transition_id, entered_at, left_at, first_entry, "
    "next_stage_id, converted_at, cover_from, source, signup_month"
)
# The first local day at whose start a stay `t` (moves: its `at`) counts its contact as
# a customer in the stage: after the day it began and the day of the contact's first
# purchase (facts `f`, workspace `w`); none without a purchase (churn_cover.py).
COVER_FROM = """CASE WHEN f.first_purchase_at IS NOT NULL THEN greatest(
    (t.at AT TIME ZONE w.time_zone)::date,
    (f.first_purchase_at AT TIME ZONE w.time_zone)::date) + 1 END"""
# ChurnCover's key (churn_cover.py) of stay rows `s` (joined to their workspace `w`), for those that
# count for at least one day.
COVER_TO = "(s.left_at AT TIME ZONE w.time_zone)::date"
COVER_KEY = f"s.workspace_id, s.stage_id, s.cover_from AS from_day, {COVER_TO} AS to_day"
COVER_COUNTS = f"s.cover_from IS NOT NULL AND (s.left_at IS NULL OR s.cover_from <= {COVER_TO})"
STAYS_SELECT = f"""
SELECT t.contact_id, t.workspace_id, t.to_stage_id AS stage_id, t.id AS transition_id,
       t.at AS entered_at, t.left_at, t.first_entry,
       CASE WHEN t.first_entry THEN p.next_stage_id END AS next_stage_id,
       CASE WHEN t.first_entry AND p.next_stage_id IS NOT NULL THEN (
           SELECT min(y.at) FROM lifecycle_stagetransition y
           WHERE y.contact_id = t.contact_id AND y.to_stage_id = p.next_stage_id
             AND y.at >= t.at) END AS converted_at,
       {COVER_FROM} AS cover_from, coalesce(f.source, '') AS source, f.signup_month
FROM (
    SELECT contact_id, workspace_id, to_stage_id, id, at,
           lead(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS left_at,
           row_number() OVER (PARTITION BY contact_id, to_stage_id ORDER BY at, id) = 1
               AS first_entry
    FROM lifecycle_stagetransition WHERE {{where}}
) t
JOIN workspaces_workspace w ON w.id = t.workspace_id
LEFT JOIN analytics_customerfacts f ON f.contact_id = t.contact_id
LEFT JOIN ({
    PATH_SQL.format(
        where="s.workspace_id IN (SELECT workspace_id FROM lifecycle_stagetransition WHERE {where})"
    )
}) p
    ON p.stage_id = t.to_stage_id
"""


def stays_select_sql(where: str) -> str:
    """The stays (STAY_COLUMNS) of the transitions `where` keeps (whole contacts)."""
    return STAYS_SELECT.format(where=where)


def stays_insert_sql(where: str) -> str:
    return f"INSERT INTO analytics_stay ({STAY_COLUMNS}) " + stays_select_sql(where)


def path_of(workspace_id: int) -> list[tuple[int, int | None]]:
    """(stage, next stage) of every stage of the workspace, as the stays are written."""
    with connection.cursor() as cursor:
        cursor.execute(PATH_SQL.format(where="s.workspace_id = %(ws)s"), {"ws": workspace_id})
        return [(int(stage), next_stage) for stage, next_stage in cursor.fetchall()]


def stays_rebuild_sql(workspace_id: int) -> tuple[str, list[Any]]:
    """The SELECT of a whole workspace's stays (STAY_COLUMNS) and its parameters: the
    same rows as `stays_select_sql`, with each first entry's conversion read in the same ordered
    pass over the moves (the first entry into each next stage at or after each move,
    a window per next stage) instead of a look-up per entry."""
    path = path_of(workspace_id)
    nexts = sorted({n for _, n in path if n is not None})
    columns = []
    for i in range(len(nexts)):
        columns.append(
            f"min(at) FILTER (WHERE to_stage_id = %s) OVER (PARTITION BY contact_id "
            f"ORDER BY at RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_{i}"
        )
    choose = " ".join(f"WHEN %s THEN t.next_{i}" for i in range(len(nexts)))
    converted = f"CASE p.next_stage_id {choose} END" if nexts else "NULL::timestamptz"
    extra = "".join(f", {c}" for c in columns)
    sql = f"""
SELECT t.contact_id, t.workspace_id, t.to_stage_id, t.id, t.at, t.left_at, t.first_entry,
       CASE WHEN t.first_entry THEN p.next_stage_id END,
       CASE WHEN t.first_entry THEN {converted} END,
       {COVER_FROM}, coalesce(f.source, ''), f.signup_month
FROM (
    SELECT contact_id, workspace_id, to_stage_id, id, at,
           lead(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS left_at,
           -- a first entry: no earlier move into the same stage (over the same
           -- ordering as left_at: no second sort of every move)
           NOT coalesce(to_stage_id = ANY(array_agg(to_stage_id) OVER (
               PARTITION BY contact_id ORDER BY at, id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)), false)
               AS first_entry{extra}
    FROM lifecycle_stagetransition WHERE workspace_id = %s
) t
JOIN workspaces_workspace w ON w.id = t.workspace_id
LEFT JOIN analytics_customerfacts f ON f.contact_id = t.contact_id
LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS p(stage_id, next_stage_id)
    ON p.stage_id = t.to_stage_id
"""
    # placeholders in order: the CASE's stages, the windows' stages, the workspace, the path
    return sql, [
        *nexts,
        *nexts,
        workspace_id,
        [s for s, _ in path],
        [n for _, n in path],
    ]


# ConversionDay's key of stay rows `s` (joined to their workspace `w`).
CONVERSION_DAY = "(s.entered_at AT TIME ZONE w.time_zone)::date"
CONVERSION_DAYS = "floor(extract(epoch FROM s.converted_at - s.entered_at) / 86400)::int"
CONVERSION_KEY = (
    f"s.workspace_id, s.stage_id, s.next_stage_id, {CONVERSION_DAY} AS day, "
    f"{CONVERSION_DAYS} AS days"
)

CONVERSION_APPLY = """
INSERT INTO analytics_conversionday AS c (workspace_id, stage_id, next_stage_id, day, days,
                                          contacts)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::date[], %s::int[],
                     %s::int[])
ON CONFLICT (workspace_id, stage_id, next_stage_id, day, days)
DO UPDATE SET contacts = c.contacts + EXCLUDED.contacts
"""


def conversion_apply(cursor: Any, change: dict[tuple, int]) -> None:
    """Move ConversionDay by a difference {(workspace, stage, next, day, days): n}, in
    key order (NULLs last, as the unique index)."""
    rows = sorted(
        ((*key, n) for key, n in change.items() if n),
        key=lambda r: tuple((v is None, v) for v in r[:5]),
    )
    if rows:
        cursor.execute(CONVERSION_APPLY, [list(column) for column in zip(*rows, strict=True)])


_CONVERSION_EXPECTED = f"""
SELECT {CONVERSION_KEY}, count(*) AS contacts FROM analytics_stay s
JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE s.workspace_id = %(ws)s AND s.first_entry GROUP BY 1, 2, 3, 4, 5
"""


def conversion_days_compare(*, workspace_id: int) -> tuple[int, int]:
    """ConversionDay against the stays it counts (written in the same transaction):
    (rows compared, rows differing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH expected AS ({_CONVERSION_EXPECTED}), stored AS ("
            "SELECT workspace_id, stage_id, next_stage_id, day, days, contacts::bigint "
            "FROM analytics_conversionday WHERE workspace_id = %(ws)s AND contacts <> 0), "
            "differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored) "
            "UNION ALL (SELECT * FROM stored EXCEPT SELECT * FROM expected)) "
            "SELECT (SELECT count(*) FROM expected), (SELECT count(*) FROM "
            "(SELECT DISTINCT stage_id, next_stage_id, day, days FROM differing) d)",
            {"ws": workspace_id},
        )
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def conversion_days_recompute(*, workspace_id: int) -> None:
    """Count the first entries again. The caller holds the workspace's rollups
    exclusively."""
    with connection.cursor() as cursor:
        sums_replace(
            cursor,
            table="analytics_conversionday",
            columns=["workspace_id", "stage_id", "next_stage_id", "day", "days", "contacts"],
            select=_CONVERSION_EXPECTED,
            params={"ws": workspace_id},
            workspace_id=workspace_id,
            counted="contacts <> 0",
        )
