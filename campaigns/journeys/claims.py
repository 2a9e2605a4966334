"""Claiming due journey enrolments, one workspace at a time.

The workspaces with due enrolments come from a skip scan of `journey_enrolment_due_per_ws`
(`(workspace_id, due_at, id)` over active and held-out rows: one index probe per
workspace, config/db.py `workspaces_with`), the same design as the outbox's claim
(messaging/services/claims.py). Each claim then reads one workspace's rows with
`WHERE workspace_id = X … FOR UPDATE SKIP LOCKED`, the form Citus routes to one shard
(a claim across tenants fails there: "could not run distributed query with FOR
UPDATE/SHARE"), and every join carries workspace_id so the tables stay co-located."""

from __future__ import annotations

import datetime as dt
from typing import Any

from config.db import workspaces_with

ACTIVE = "status IN ('active', 'holdout')"

CLAIM_SQL = """
SELECT e.id, e.journey_id, e.contact_id, e.step_id, e.status, e.due_at, e.entered_at,
       e.step_entered_at, e.resume_at, e.goal_until, e.attempts, e.path, c.time_zone,
       c.phone
FROM campaigns_journeyenrolment e
JOIN campaigns_journey j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
JOIN contacts_contact c ON c.workspace_id = e.workspace_id AND c.id = e.contact_id
WHERE e.workspace_id = %(ws)s AND j.workspace_id = %(ws)s AND c.workspace_id = %(ws)s
  AND e.status IN ('active', 'holdout') AND e.due_at <= %(now)s AND j.status = 'live'
ORDER BY e.due_at, e.id
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED
"""


def enrolment_due_workspaces(*, now: dt.datetime) -> list[int]:
    """The workspaces with an active or held-out enrolment due at `now` (in a journey
    that may be paused: its claim then finds nothing, which costs one probe)."""
    return workspaces_with(
        table="campaigns_journeyenrolment",
        where=ACTIVE,
        ready="due_at <= %(now)s",
        params={"now": now},
    )


def enrolments_claim(
    cursor: Any, *, workspace_id: int, now: dt.datetime, limit: int
) -> list[tuple]:
    """Lock up to `limit` due enrolments of one workspace, oldest due first, skipping
    rows another worker holds; the caller runs them in the same transaction."""
    cursor.execute(CLAIM_SQL, {"ws": workspace_id, "now": now, "limit": limit})
    return list(cursor.fetchall())
