"""Marking contacts for re-evaluation by the lifecycle engine, and the engine's claims.

The meeting point of every writer (ingest, contact edits, imports) and the engine
(issue 12). Writers append mark rows (or join one that is pending), in the statement
or transaction of their change; nothing a writer does waits on the engine, and
nothing the engine does waits on a writer:

1. Claim (a short transaction of its own, one workspace at a time): take the pending
   rows of up to N contacts that no claim holds yet, stamping them with a token.
   Ingest joins its news to a contact's pending mark about an earlier moment instead
   of appending one (share-locking it to its commit; the claim skips a locked row),
   so a contact with news in every batch has one pending row, not one per batch.
2. Act, in short transactions that each begin by holding the claim's rows
   (`contact_marks_hold`, FOR UPDATE in contact order): a claim given back or taken
   over in between is noticed there, and whoever erases a contact meanwhile waits.
3. Done: delete exactly the rows claimed (`contact_marks_done`), in the last of them.

A change committed after the claim is a new row, not part of it, so the contact is
evaluated again: no change is ever lost, and no claim ever blocks an insert. A worker
that dies leaves its claim; after `lease` it is given back (`contact_marks_release_stale`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from config.db import workspaces_with
from contacts.services.locks import contacts_hold

MARK_SOURCES = ("api", "import", "rule")
_CLAIM_LOCK_SPACE = 7301  # advisory-lock namespace: one claim at a time per workspace


def contacts_mark_changed(
    *,
    contact_ids: Collection[int],
    source: str = "rule",
    since: dt.datetime | None = None,
    urgent: bool | None = None,
) -> None:
    """Queue these contacts for the lifecycle engine (one appending statement; call it
    in the transaction of the change). `source` says what changed them: "api",
    "import" or "rule" (anything else). `since`: the earliest moment of the
    contacts' lives the change is about, when it is in the past (imported stage
    dates, a signup date): their stage history is replayed from there. `urgent`:
    claimed before other news (default: unless imported); a bulk change of many
    contacts passes False so as not to hold up every other contact's news."""
    if not contact_ids:
        return
    assert source in MARK_SOURCES, source
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contactmark
                (contact_id, workspace_id, marked_at, source, since, urgent)
            SELECT c.id, c.workspace_id, now(), %s, %s, %s FROM contacts_contact c
            WHERE c.id = ANY(%s)
            """,
            [source, since, _urgent(source, urgent), list(contact_ids)],
        )


def _urgent(source: str, urgent: bool | None) -> bool:
    return source != "import" if urgent is None else urgent


def contacts_mark_changed_since(
    *,
    since_by_contact: Mapping[int, dt.datetime | None],
    source: str = "rule",
    urgent: bool | None = None,
) -> None:
    """contacts_mark_changed with each contact's own `since` (a batch of signup dates
    or imported stage dates): one appending statement, in the transaction of the
    change."""
    if not since_by_contact:
        return
    assert source in MARK_SOURCES, source
    ids = sorted(since_by_contact)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contactmark
                (contact_id, workspace_id, marked_at, source, since, urgent)
            SELECT c.id, c.workspace_id, now(), %s, m.since, %s
            FROM unnest(%s::bigint[], %s::timestamptz[]) AS m(contact_id, since)
            JOIN contacts_contact c ON c.id = m.contact_id
            """,
            [source, _urgent(source, urgent), ids, [since_by_contact[i] for i in ids]],
        )


@dataclass(frozen=True)
class MarkClaim:
    token: uuid.UUID
    workspace_id: int
    sources: dict[int, str]  # contact id -> the source of its oldest mark
    # contact id -> the earliest moment its claimed marks are about (a mark without
    # `since` is about the moment it was written)
    since: dict[int, dt.datetime] = field(default_factory=dict)
    # The same, only for contacts every one of whose claimed marks names its moment
    # (events and dated imports do): nothing of theirs before it changed. A mark
    # without one (an edit, a drift repair) may be about anything.
    dated_since: dict[int, dt.datetime] = field(default_factory=dict)
    # Picked for urgent news (the rest of these contacts' pending marks came along).
    urgent: bool = False
    # The oldest pending news had waited longer than the claim's `max_wait`.
    overdue: bool = False

    @property
    def contact_ids(self) -> list[int]:
        return sorted(self.sources)


def contact_marks_workspaces() -> list[int]:
    """The workspaces with pending marks: one index probe per workspace (a skip scan
    of contactmark_pending), never a scan of the queue across tenants."""
    return workspaces_with(table="contacts_contactmark", where="claimed_at IS NULL")


# The contacts of the oldest pending marks (the urgent ones only, through
# contactmark_urgent, when `{urgent}` says so) that no other claim holds
# (contactmark_held: a probe of the claimed rows only).
_PICK_SQL = """
WITH oldest AS (
    SELECT contact_id, id FROM contacts_contactmark
    WHERE workspace_id = %(ws)s AND claimed_at IS NULL {urgent}
    ORDER BY id LIMIT %(scan)s
)
SELECT o.contact_id FROM oldest o
WHERE NOT EXISTS (
    SELECT 1 FROM contacts_contactmark held
    WHERE held.contact_id = o.contact_id AND held.workspace_id = %(ws)s
      AND held.claimed_at IS NOT NULL)
GROUP BY o.contact_id ORDER BY min(o.id) LIMIT %(limit)s
"""


def _take(cursor: Any, workspace_id: int, token: uuid.UUID, limit: int, urgent: str) -> list[Any]:
    """Claim the pending marks of up to `limit` contacts picked by _PICK_SQL: their
    (contact id, id, source, since, marked_at) in id order."""
    cursor.execute(
        _PICK_SQL.replace("{urgent}", urgent),
        {"ws": workspace_id, "limit": limit, "scan": limit * 2},
    )
    contacts = [row[0] for row in cursor.fetchall()]
    if not contacts:
        return []
    # Then every pending mark of theirs, locked in id order (as an erasure locks a
    # contact's marks), and claimed. A mark that an ingest statement is joining
    # (events.py) or an erasure is deleting is locked by it: skipped, not waited for,
    # and left pending for the next claim. Each list goes in as a constant array,
    # which PostgreSQL tests by hash whatever plan it picks: a queue table's row
    # estimate is stale by nature (a handful of rows, from when it was last analyzed),
    # and with the lists as sub-queries it chose nested loops of every pending mark
    # against every picked one (110M comparisons, 6.6 s a claim with 58,000 marks
    # pending).
    cursor.execute(
        """
        SELECT id FROM contacts_contactmark
        WHERE contact_id = ANY(%s::bigint[]) AND workspace_id = %s AND claimed_at IS NULL
        ORDER BY id FOR UPDATE SKIP LOCKED
        """,
        [contacts, workspace_id],
    )
    marks = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        """
        UPDATE contacts_contactmark SET claim = %s, claimed_at = now()
        WHERE id = ANY(%s::bigint[]) AND claimed_at IS NULL
        RETURNING contact_id, id, source, since, marked_at
        """,
        [token, marks],
    )
    return sorted(cursor.fetchall(), key=lambda row: row[1])


def contact_marks_claim(
    *,
    workspace_id: int,
    limit: int,
    max_wait: dt.timedelta | None = None,
    urgent_limit: int | None = None,
    urgent_only: bool = False,
) -> MarkClaim | None:
    """Claim the pending marks of up to `limit` contacts of a workspace, skipping
    contacts that another claim holds (so one contact is evaluated by one worker at a
    time). Without `max_wait`, the oldest first. With it, the contacts with urgent
    marks first, oldest first, up to `urgent_limit` (default `limit`; `urgent` on the
    claim), and only when none is pending the oldest of the rest; once the oldest
    pending mark has waited longer than `max_wait` (`overdue`), urgent news takes at
    most half of that, so that a caller filling the rest with the oldest (the engine
    does) keeps the rest moving however much urgent news comes in. `urgent_only`:
    up to `limit` contacts with urgent news, never the rest. None if another worker is
    claiming in this workspace right now or nothing is pending. Commits at once."""
    token = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        # Claims of a workspace take turns, so each sees the others' committed claims
        # and the "not held" test below is exact. A busy workspace is skipped, not
        # waited for.
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [_CLAIM_LOCK_SPACE, workspace_id]
        )
        if not cursor.fetchone()[0]:
            return None
        rows: list[tuple[Any, ...]] = []
        urgent = overdue = False
        if urgent_only:
            rows = _take(cursor, workspace_id, token, limit, "AND urgent")
            urgent = bool(rows)
        elif max_wait is not None:
            cursor.execute(
                "SELECT marked_at < now() - %s * interval '1 second' FROM contacts_contactmark "
                "WHERE workspace_id = %s AND claimed_at IS NULL ORDER BY id LIMIT 1",
                [max_wait.total_seconds(), workspace_id],
            )
            row = cursor.fetchone()
            overdue = row is not None and bool(row[0])
            share = (urgent_limit or limit) // (2 if overdue else 1)
            if share:
                rows = _take(cursor, workspace_id, token, share, "AND urgent")
                urgent = bool(rows)
        # Nothing urgent (or every urgent mark picked was locked): the oldest.
        if not rows and not urgent_only:
            rows = _take(cursor, workspace_id, token, limit, "")
    if not rows:
        return None
    sources: dict[int, str] = {}
    since: dict[int, dt.datetime] = {}
    undated: set[int] = set()
    for contact_id, _, source, dated, marked_at in rows:
        moment = dated or marked_at
        sources.setdefault(contact_id, source)
        since[contact_id] = min(moment, since.get(contact_id, moment))
        if dated is None:
            undated.add(contact_id)
    dated_since = {i: moment for i, moment in since.items() if i not in undated}
    return MarkClaim(
        token=token,
        workspace_id=workspace_id,
        sources=sources,
        since=since,
        dated_since=dated_since,
        urgent=urgent,
        overdue=overdue,
    )


def contact_marks_hold(*, claim: MarkClaim) -> list[int]:
    """Inside a transaction of the engine: lock the claim's contacts against erasure
    (contacts_hold), then the claim's rows (contact order: contact, then its marks, as
    every writer locks them), and return the contacts still held by the claim. A
    contact erased since, or a claim given back after its lease, is left out; an
    erasure that starts now waits for this transaction."""
    contacts_hold(contact_ids=claim.contact_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_id FROM contacts_contactmark WHERE claim = %s "
            "ORDER BY contact_id, id FOR UPDATE",
            [claim.token],
        )
        return sorted({row[0] for row in cursor.fetchall()})


def contact_marks_done(*, claim: MarkClaim) -> int:
    """Delete the rows of the claim (the last step of the transaction that acted on
    them); later marks of the same contacts stay for the next evaluation."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_contactmark WHERE claim = %s", [claim.token])
        return int(cursor.rowcount)


def contact_marks_release(*, claim: MarkClaim) -> int:
    """Give a claim back at once (the engine failed part-way): its contacts are
    evaluated again by the next claim."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contactmark SET claim = NULL, claimed_at = NULL WHERE claim = %s",
            [claim.token],
        )
        return int(cursor.rowcount)


def contact_marks_release_stale(*, lease: dt.timedelta) -> int:
    """Give back the claims older than `lease` (a worker that died holding them). A
    worker still acting on one notices at its next `contact_marks_hold`."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contactmark SET claim = NULL, claimed_at = NULL "
            "WHERE claimed_at IS NOT NULL AND claimed_at < now() - make_interval(secs => %s)",
            [lease.total_seconds()],
        )
        return int(cursor.rowcount)


def contact_marks_discard(*, contact_id: int) -> None:
    """Delete a contact's marks, waiting for an engine step that holds them (erasure:
    the contact goes, and the engine must not act on it after this transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM contacts_contactmark WHERE id IN (SELECT id FROM contacts_contactmark "
            "WHERE contact_id = %s ORDER BY id FOR UPDATE)",
            [contact_id],
        )
