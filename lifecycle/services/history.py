"""Known stage history brought from elsewhere (cause `import`): from the API
(`POST /api/v1/contacts/{id}/transitions/`) and from a stage-history CSV import.

An imported move is a fact about the past, like a manual move: the engine's replay
keeps it and replays rule moves around it. It is stored once: its natural key is
(contact, at, to_stage) among imported moves (`transition_import_unique`), so a file
or a request sent twice adds nothing the second time.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.errors import InvalidInput
from contacts.services import contacts_hold, contacts_mark_changed_since
from contacts.validation import Errors, parse_past_moment
from lifecycle.models import Cause, Stage, StageTransition
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record


@dataclass(frozen=True)
class HistoryEntry:
    """One known move: the contact entered `stage` at `at`."""

    contact_id: int
    stage_id: int
    at: dt.datetime


@dataclass
class HistoryImportResult:
    created: int = 0
    duplicates: int = 0
    # The rows written, by contact id: (id, at).
    rows: dict[int, list[tuple[int, dt.datetime]]] = field(default_factory=dict)


def live_stages_by_key(*, workspace: Workspace) -> dict[str, Stage]:
    """The workspace's stages that moves can be imported into (not archived)."""
    stages = Stage.objects.filter(workspace=workspace, archived_at__isnull=True)
    return {stage.key: stage for stage in stages}


def history_entry_clean(
    raw: Any, *, stages: dict[str, Stage], zone: str, now: dt.datetime
) -> tuple[tuple[Stage, dt.datetime] | None, Errors]:
    """One `{"stage": "<key>", "at": "<ISO date-time>"}` from the API: the stage (a
    live stage's key) and the moment (not in the future), or the errors by field."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["must be an object with stage and at"]}
    errors: Errors = {key: ["unknown field"] for key in sorted(set(raw) - {"stage", "at"})}
    key = raw.get("stage")
    stage = stages.get(key) if isinstance(key, str) else None
    if "stage" not in raw:
        errors["stage"] = ["is required"]
    elif stage is None:
        known = ", ".join(sorted(stages))
        errors["stage"] = [f"'{key}' is not a stage of this workspace (one of {known})"]
    moment = None
    if "at" not in raw:
        errors["at"] = ["is required"]
    else:
        moment, problem = parse_past_moment(raw["at"], zone=zone, now=now)
        if problem:
            errors["at"] = [problem]
    if errors or stage is None or moment is None:
        return None, errors
    return (stage, moment), {}


def history_entries_clean(
    body: Any, *, workspace: Workspace, contact_id: int, limit: int
) -> list[HistoryEntry]:
    """The API's body: one entry or a list of 1 to `limit`. All or nothing: an
    InvalidInput naming each bad entry's index and field (`[3].at`)."""
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list):
        raise InvalidInput(
            "Send one {stage, at} object or a list of them.",
            fields={"non_field_errors": ["must be an object or a list of objects"]},
        )
    if not items:
        raise InvalidInput("The list is empty.", fields={"non_field_errors": ["is empty"]})
    if len(items) > limit:
        raise InvalidInput(
            f"{len(items)} entries; at most {limit} per request.",
            fields={"non_field_errors": [f"at most {limit} entries per request"]},
        )
    stages = live_stages_by_key(workspace=workspace)
    now = timezone.now()
    entries: list[HistoryEntry] = []
    errors: Errors = {}
    for index, raw in enumerate(items):
        cleaned, problems = history_entry_clean(
            raw, stages=stages, zone=workspace.time_zone, now=now
        )
        for name, reasons in problems.items():
            if single:
                errors[name] = reasons
            else:
                errors[f"[{index}]" if name == "non_field_errors" else f"[{index}].{name}"] = (
                    reasons
                )
        if cleaned is not None:
            entries.append(HistoryEntry(contact_id, cleaned[0].pk, cleaned[1]))
    if errors:
        first, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
    return entries


def _entry_path(single: bool, index: int, name: str) -> str:
    """Where an error is: `at` in a single entry, `[3].at` (or `[3]`) in a list."""
    if single:
        return name
    return f"[{index}]" if name == "non_field_errors" else f"[{index}].{name}"


def _stored_history(
    workspace_id: int, contact_ids: list[int]
) -> dict[int, list[tuple[dt.datetime, int, int]]]:
    """Each contact's stored moves as (at, order, to_stage), oldest first."""
    history: dict[int, list[tuple[dt.datetime, int, int]]] = defaultdict(list)
    rows = (
        StageTransition.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids)
        .order_by("contact_id", "at", "id")
        .values_list("contact_id", "at", "id", "to_stage_id")
    )
    for contact_id, at, pk, to_stage_id in rows:
        history[contact_id].append((at, pk, to_stage_id))
    return history


def _rows_to_insert(
    entries: Sequence[HistoryEntry], stored: dict[int, list[tuple[dt.datetime, int, int]]]
) -> list[tuple[int, int | None, int, dt.datetime]]:
    """(contact, from_stage, to_stage, at) for each distinct entry. from_stage is the
    stage in force just before `at` among the contact's stored moves and the entries
    before it in this batch (None: nothing known before)."""
    by_contact: dict[int, set[tuple[dt.datetime, int]]] = defaultdict(set)
    for entry in entries:
        by_contact[entry.contact_id].add((entry.at, entry.stage_id))
    rows: list[tuple[int, int | None, int, dt.datetime]] = []
    for contact_id in sorted(by_contact):
        # Entries after every stored move of the same moment: an import at the exact
        # time of a stored move comes after it (order key 2**63).
        timeline = sorted(
            [*stored.get(contact_id, []), *((at, 2**63, s) for at, s in by_contact[contact_id])]
        )
        moments = [(at, order) for at, order, _ in timeline]
        for at, stage_id in sorted(by_contact[contact_id]):
            position = bisect.bisect_left(moments, (at, 0))
            before = timeline[position - 1][2] if position else None
            rows.append((contact_id, before, stage_id, at))
    return rows


@transaction.atomic
def stage_history_import(
    *,
    workspace: Workspace,
    entries: Sequence[HistoryEntry],
    actor: Actor,
    source: str,
    reason: str = "",
) -> HistoryImportResult:
    """Store known moves (cleaned entries of this workspace's contacts and live
    stages) with cause `import`, and mark each contact whose history gained a move
    with `since` = its earliest new move, so the engine replays it from there.

    1. Hold the contacts (id order, as every writer), then lock their rows against
       other history writers (FOR NO KEY UPDATE, id order): two imports of one
       contact take turns, so each sees the other's moves when it computes
       from_stage. Edits of the contact wait for the import's short transaction.
    2. Compute each entry's from_stage from the stored history and the batch.
    3. Insert with ON CONFLICT DO NOTHING on the natural key: a move already stored
       is counted as a duplicate, not written again.
    `source` is the mark's source ("api" or "import")."""
    result = HistoryImportResult()
    if not entries:
        return result
    contact_ids = sorted({entry.contact_id for entry in entries})
    held = set(contacts_hold(contact_ids=contact_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM contacts_contact WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
            [sorted(held)],
        )
    entries = [entry for entry in entries if entry.contact_id in held]
    rows = _rows_to_insert(entries, _stored_history(workspace.pk, sorted(held)))
    if not rows:
        return result
    now = timezone.now()
    contacts, froms, tos, moments = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO lifecycle_stagetransition
                (workspace_id, contact_id, from_stage_id, to_stage_id, at, recorded_at,
                 cause, event_name, rule_version, reason, actor_user_id, actor_api_key_id)
            SELECT %(ws)s, e.contact_id, e.from_stage_id, e.to_stage_id, e.at, %(now)s,
                   %(cause)s, '', s.rule_version, %(reason)s, %(user)s, %(key)s
            FROM unnest(%(contacts)s::bigint[], %(froms)s::bigint[], %(tos)s::bigint[],
                        %(moments)s::timestamptz[])
                 AS e(contact_id, from_stage_id, to_stage_id, at)
            JOIN lifecycle_stage s ON s.id = e.to_stage_id AND s.workspace_id = %(ws)s
            ORDER BY e.contact_id, e.at
            ON CONFLICT (workspace_id, contact_id, at, to_stage_id) WHERE cause = 'import'
            DO NOTHING
            RETURNING id, contact_id, at
            """,
            {
                "ws": workspace.pk,
                "now": now,
                "cause": Cause.IMPORT.value,
                "reason": reason[:2000],
                "user": actor.user.pk if actor.user else None,
                "key": actor.api_key.pk if actor.api_key else None,
                "contacts": contacts,
                "froms": froms,
                "tos": tos,
                "moments": moments,
            },
        )
        written = cursor.fetchall()
    for pk, contact_id, at in written:
        result.rows.setdefault(contact_id, []).append((pk, at))
    result.created = len(written)
    result.duplicates = len(rows) - len(written)
    contacts_mark_changed_since(
        since_by_contact={cid: min(at for _, at in moved) for cid, moved in result.rows.items()},
        source=source,
    )
    if result.created:
        audit_record(
            workspace=workspace,
            action="stage_history.imported",
            actor=actor,
            object_type="contact" if len(result.rows) == 1 else "",
            object_id=next(iter(result.rows)) if len(result.rows) == 1 else None,
            details={
                "moves": result.created,
                "duplicates": result.duplicates,
                "contacts": len(result.rows),
                "source": reason,
            },
        )
    return result
