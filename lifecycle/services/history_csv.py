"""Stage history from a CSV file: one known move per row (the contact by email or
external id, the stage by key or name, the date), run by the contacts import's
machinery as the `stage_history` kind (registered in lifecycle/apps.py)."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone

from config.errors import InvalidInput
from config.spreadsheet import csv_value
from contacts.import_kinds import ChunkOutcome, ImportKind, Rows
from contacts.models import Contact, ImportJob
from contacts.validation import clean_email, clean_external_id, parse_past_moment
from lifecycle.models import Stage
from lifecycle.services.history import HistoryEntry, live_stages_by_key, stage_history_import
from workspaces.services import Actor

KIND = "stage_history"
TARGETS = (
    ("email", "Email"),
    ("external_id", "External id"),
    ("stage", "Stage (key or name)"),
    ("at", "Date (entered the stage)"),
)
_ALIASES = {
    "email": {"email", "emailaddress", "e-mail", "mail"},
    "external_id": {"externalid", "id", "customerid", "userid", "contactid"},
    "stage": {"stage", "stagekey", "stagename", "lifecyclestage", "tostage"},
    "at": {"at", "date", "enteredat", "entered", "since", "changedat", "movedat", "when"},
}


def suggest_history_mapping(headers: list[str]) -> dict[str, str]:
    """Each header that names a target (or a known spelling of one), once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = re.sub(r"[^a-z0-9-]", "", header.lower())
        target = next((t for t, names in _ALIASES.items() if key in names and t not in used), "")
        if target:
            used.add(target)
        mapping[header] = target
    return mapping


def validate_history_mapping(headers: list[str], mapping: Any, match_on: Any) -> dict[str, str]:
    """{"Column": "email" | "external_id" | "stage" | "at" | ""}: stage, at and the
    identifier matched on must each come from one column."""
    if not isinstance(mapping, dict):
        raise InvalidInput("The mapping must be an object.", fields={"mapping": ["not an object"]})
    errors: dict[str, list[str]] = {}
    if match_on not in ImportJob.MatchOn.values:
        errors["match_on"] = [f"one of {', '.join(ImportJob.MatchOn.values)}"]
    targets = dict(TARGETS)
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        path = f"mapping.{column}"
        if column not in headers:
            errors[path] = ["is not a column of the file"]
        elif target in ("", None):
            continue
        elif not isinstance(target, str) or target not in targets:
            errors[path] = [f"one of {', '.join(targets)}, or empty to ignore it"]
        elif target in seen:
            errors[path] = [f"'{target}' is already mapped from '{seen[target]}'"]
        else:
            seen[target] = column
            clean[column] = target
    for needed in ("stage", "at", match_on if match_on in targets else None):
        if needed and needed not in seen and "match_on" not in errors:
            errors[f"mapping.{needed}"] = [f"map a column to {targets[needed]}"]
    if errors:
        raise InvalidInput("The column mapping is not valid.", fields=errors)
    return clean


def _stage_lookup(stages: dict[str, Stage]) -> dict[str, Stage]:
    """A stage by its key or its name, either case."""
    lookup = {stage.name.strip().lower(): stage for stage in stages.values()}
    lookup.update({key.lower(): stage for key, stage in stages.items()})
    return lookup


def _identifier(match_on: str, raw: str) -> tuple[str | None, str | None]:
    if match_on == "email":
        return clean_email(raw)
    return clean_external_id(raw)


def history_chunk_process(job: ImportJob, rows: Rows) -> ChunkOutcome:
    """Turn each row into a move, refuse those naming an unknown contact or stage or
    a bad or future date (with the row number and the column), and import the rest
    (lifecycle.services.history: each stored once, each contact marked since its
    earliest new move)."""
    workspace = job.workspace
    columns = {target: column for column, target in job.mapping.items()}
    stages = _stage_lookup(live_stages_by_key(workspace=workspace))
    stage_names = ", ".join(sorted({s.key for s in stages.values()}))
    now = timezone.now()
    rejected: list[tuple[int, str]] = []
    parsed: list[tuple[int, str, Stage, Any]] = []
    ident_column = columns[job.match_on]
    for row_number, cells in rows:
        values = {c: csv_value(cell).strip() for c, cell in zip(job.headers, cells, strict=True)}
        ident, problem = _identifier(job.match_on, values[ident_column])
        if problem or not ident:
            rejected.append((row_number, f"{ident_column}: {problem or 'is empty'}"))
            continue
        stage = stages.get(values[columns["stage"]].lower())
        if stage is None:
            raw = values[columns["stage"]]
            reason = f"'{raw}' is not a stage of this workspace (one of {stage_names})"
            rejected.append((row_number, f"{columns['stage']}: {reason if raw else 'is empty'}"))
            continue
        moment, problem = parse_past_moment(
            values[columns["at"]], zone=workspace.time_zone, now=now
        )
        if problem:
            rejected.append((row_number, f"{columns['at']}: {problem}"))
            continue
        parsed.append((row_number, ident, stage, moment))
    field = "email" if job.match_on == "email" else "external_id"
    known = dict(
        Contact.objects.filter(
            workspace=workspace, **{f"{field}__in": {p[1] for p in parsed}}
        ).values_list(field, "pk")
    )
    entries: list[HistoryEntry] = []
    for row_number, ident, stage, moment in parsed:
        contact_id = known.get(ident)
        if contact_id is None:
            label = "email" if field == "email" else "external id"
            rejected.append((row_number, f"{ident_column}: no contact with the {label} '{ident}'"))
            continue
        entries.append(HistoryEntry(contact_id, stage.pk, moment))
    result = stage_history_import(
        workspace=workspace,
        entries=entries,
        actor=Actor(user=job.created_by, api_key=job.created_by_api_key, system="import"),
        source="import",
        reason=f"imported from {job.filename}",
    )
    return ChunkOutcome(
        created=result.created,
        unchanged=len(entries) - result.created,
        rejected=tuple(sorted(rejected)),
    )


STAGE_HISTORY_IMPORT = ImportKind(
    key=KIND,
    title="Stage history",
    help_text="One known stage move per row: the contact's email or external id, the "
    "stage (its key or name) and the date the contact entered it (YYYY-MM-DD, or a date "
    "and time). Load contacts and their events first.",
    targets=TARGETS,
    created_label="moves stored",
    unchanged_label="already stored",
    suggest_mapping=suggest_history_mapping,
    validate_mapping=validate_history_mapping,
    process_chunk=history_chunk_process,
)
