"""CSV import of contacts: upload, column mapping, then a checkpointed background run.

A job is processed in chunks; each chunk's upserts, its rejected rows and the job's
progress commit together, so a worker killed at any point resumes after the last
committed chunk and no accepted row is lost or applied twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from config.queue import enqueue_on_commit
from config.spreadsheet import csv_value
from contacts.hooks import contact_extras_clean
from contacts.import_kinds import IMPORT_KINDS, ImportKind
from contacts.models import ImportJob, ImportRowError
from contacts.services.import_mapping import (
    row_extras,
    row_to_contact,
    suggest_mapping,
    validate_mapping,
)
from contacts.services.upsert import contacts_upsert
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1000
_NOT_CSV = (
    (b"\xff\xfe", "is UTF-16 text; save it as CSV UTF-8"),
    (b"\xfe\xff", "is UTF-16 text; save it as CSV UTF-8"),
    (b"PK\x03\x04", "is a ZIP archive (an .xlsx workbook?); save it as CSV UTF-8"),
    (b"\x1f\x8b", "is compressed (gzip); upload the CSV itself"),
    (b"%PDF", "is a PDF, not a CSV file"),
)


def _decode(raw: bytes) -> tuple[str, str]:
    """The file's text. Refuses what is not text: Windows-1252 would decode almost any
    bytes, and a NUL, which PostgreSQL cannot store, would then fail the database
    write of a header or a row instead of being reported here."""
    for signature, reason in _NOT_CSV:
        if raw.startswith(signature):
            raise InvalidInput(f"The file {reason}.", fields={"file": [reason]})
    if b"\x00" in raw:
        reason = "contains NUL bytes: it is binary or UTF-16, not a CSV text file"
        raise InvalidInput(f"The file {reason}.", fields={"file": [reason]})
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "The file is neither UTF-8 nor Windows-1252 text.",
        fields={"file": ["is not a text CSV file"]},
    )


# Columns of our own export that are not contact data a file can set.
CONTACTS = "contacts"


def import_kind(key: str) -> ImportKind | None:
    """The registered kind of a job that is not a contacts import (None for contacts)."""
    return None if key == CONTACTS else IMPORT_KINDS[key]


@transaction.atomic
def import_job_create(
    *, workspace: Workspace, upload: UploadedFile, actor: Actor, kind: str = CONTACTS
) -> ImportJob:
    """Store an uploaded CSV and read its header; the job then waits for a mapping.
    `kind`: contacts, or a registered kind (contacts/import_kinds.py)."""
    if kind != CONTACTS and kind not in IMPORT_KINDS:
        choices = ", ".join([CONTACTS, *IMPORT_KINDS])
        raise InvalidInput("Unknown kind of import.", fields={"kind": [f"one of {choices}"]})
    if upload.size and upload.size > settings.IMPORT_MAX_FILE_BYTES:
        raise InvalidInput(
            "The file is too large.",
            fields={"file": [f"is larger than {settings.IMPORT_MAX_FILE_BYTES // 1_000_000} MB"]},
        )
    raw = upload.read()
    text, _ = _decode(raw)
    reader = csv.reader(io.StringIO(text))
    try:
        headers = [csv_value(h.strip()) for h in next(reader)]
    except (StopIteration, csv.Error):
        raise InvalidInput(
            "The file has no header row.", fields={"file": ["is empty or not CSV"]}
        ) from None
    if not any(headers):
        raise InvalidInput("The header row is empty.", fields={"file": ["has no column names"]})
    duplicates = sorted({h for h in headers if headers.count(h) > 1 and h})
    if duplicates:
        raise InvalidInput(
            "Column names repeat.",
            fields={"file": [f"column '{duplicates[0]}' appears more than once"]},
        )
    total = sum(1 for row in _rows(text) if row[1])
    upload.seek(0)
    job = ImportJob(
        workspace=workspace,
        created_by=actor.user,
        created_by_api_key=actor.api_key,
        filename=_clean_filename(upload.name),
        kind=kind,
        headers=headers,
        mapping=(
            suggest_mapping(headers)
            if kind == CONTACTS
            else IMPORT_KINDS[kind].suggest_mapping(headers)
        ),
        total_rows=total,
    )
    job.file.save(f"{workspace.pk}-{timezone.now():%Y%m%d%H%M%S}.csv", upload, save=False)
    job.save()
    audit_record(
        workspace=workspace,
        action="import.created",
        actor=actor,
        object_type="import",
        object_id=job.pk,
        details={"rows": total, "kind": kind},
    )
    return job


def _clean_filename(name: str | None) -> str:
    """The upload's name as shown back: no control characters (a NUL cannot be stored)."""
    cleaned = "".join(ch for ch in (name or "") if ch.isprintable()).strip()
    return (cleaned or "import.csv")[:255]


def _rows(text: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(row number, cells or None, parse error) for each data row; the header is row 1.
    Blank lines are skipped but still counted."""
    reader = csv.reader(io.StringIO(text), strict=True)
    row_number = 1
    try:
        next(reader)
    except (StopIteration, csv.Error):
        return
    while True:
        row_number = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield row_number, None, f"is not valid CSV ({exc})"
            continue
        if cells and any(cell.strip() for cell in cells):
            yield row_number, cells, None


@transaction.atomic
def import_job_start(*, job: ImportJob, mapping: Any, match_on: Any, actor: Actor) -> ImportJob:

    if job.status != ImportJob.Status.MAPPING:
        raise Conflict("This import has already started.", fields={"status": [job.status]})
    kind = import_kind(job.kind)
    validate = validate_mapping if kind is None else kind.validate_mapping
    job.mapping = validate(job.headers, mapping, match_on)
    job.match_on = match_on
    job.status = ImportJob.Status.QUEUED
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["mapping", "match_on", "status", "heartbeat_at"])
    audit_record(
        workspace=job.workspace,
        action="import.started",
        actor=actor,
        object_type="import",
        object_id=job.pk,
        details={"match_on": match_on},
    )
    # If the broker cannot take it now, the job stays queued and
    # contacts.import_resume_stalled enqueues it again (config/queue.py).
    enqueue_on_commit("contacts.import_run", job.pk)
    return job


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Process a queued or interrupted job from its last checkpoint. Safe to call twice
    at once: a session advisory lock lets one caller work and the other return."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_SPACE, job_id])
        if not cursor.fetchone()[0]:
            return None
    try:
        return _run_locked(job_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_SPACE, job_id])


_LOCK_SPACE = 7101  # advisory-lock namespace for import jobs


def _run_locked(job_id: int) -> ImportJob | None:
    job = ImportJob.objects.select_related("workspace").filter(pk=job_id).first()
    if job is None or job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return job
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING,
        started_at=job.started_at or timezone.now(),
        heartbeat_at=timezone.now(),
    )
    try:
        with job.file.open("rb") as handle:
            text, _ = _decode(handle.read())
    except (OSError, InvalidInput) as exc:
        logger.exception("contacts.import_failed job=%s", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            error=f"Could not read the file: {exc}",
            finished_at=timezone.now(),
        )
        return job
    chunk: list[tuple[int, list[str] | None, str | None]] = []
    done = job.processed_rows
    for position, row in enumerate(_rows(text)):
        if position < done:
            continue
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            _process_chunk(job, chunk)
            chunk = []
    if chunk:
        _process_chunk(job, chunk)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.COMPLETED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    logger.info(
        "contacts.import_completed job=%s rows=%s rejected=%s",
        job.pk,
        job.processed_rows,
        job.rejected_count,
    )
    return job


@transaction.atomic
def _process_chunk(job: ImportJob, chunk: list[tuple[int, list[str] | None, str | None]]) -> None:
    kind = import_kind(job.kind)
    if kind is not None:
        _process_kind_chunk(job, kind, chunk)
        return
    rejected: list[ImportRowError] = []
    items: list[dict[str, Any]] = []
    extras: list[dict[str, Any]] = []
    item_rows: list[tuple[int, list[str]]] = []
    for row_number, cells, parse_error in chunk:
        if parse_error or cells is None:
            rejected.append(_row_error(job, row_number, parse_error or "unreadable"))
            continue
        data, error = row_to_contact(job.headers, cells, job.mapping, zone=job.workspace.time_zone)
        item_extras: dict[str, Any] = {}
        if not error:
            item_extras, error = _extras_clean(job, row_extras(job.headers, cells, job.mapping))
        if error:
            rejected.append(_row_error(job, row_number, error, _row_values(job.headers, cells)))
            continue
        items.append(data)
        extras.append(item_extras)
        item_rows.append((row_number, cells))
    results = contacts_upsert(
        workspace=job.workspace,
        items=items,
        source=f"import:{job.pk}",
        match_on=job.match_on,
        extras=extras,
    )
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for result, (row_number, cells) in zip(results, item_rows, strict=True):
        if result.status == "error":
            field, reasons = next(iter(result.errors.items()))
            reason = f"{field}: {reasons[0]}"
            rejected.append(_row_error(job, row_number, reason, _row_values(job.headers, cells)))
        else:
            counts[result.status] += 1
    ImportRowError.objects.bulk_create(rejected)
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(chunk),
        created_count=F("created_count") + counts["created"],
        updated_count=F("updated_count") + counts["updated"],
        unchanged_count=F("unchanged_count") + counts["unchanged"],
        rejected_count=F("rejected_count") + len(rejected),
        heartbeat_at=timezone.now(),
    )


def _row_error(
    job: ImportJob, row_number: int, reason: str, values: dict[str, str] | None = None
) -> ImportRowError:
    return ImportRowError(
        workspace_id=job.workspace_id,
        job=job,
        row_number=row_number,
        reason=reason,
        values=values or {},
    )


def _extras_clean(
    job: ImportJob, cells: dict[str, tuple[str, str]]
) -> tuple[dict[str, Any], str | None]:
    """A row's later-app fields, cleaned as the API's are (loyalty's `referred_by`: an
    unknown code rejects the row, "<column>: no such referral code")."""
    if not cells:
        return {}, None
    _, extras, errors = contact_extras_clean(
        job.workspace, {field: value for field, (_, value) in cells.items()}
    )
    if errors:
        field, reasons = next(iter(errors.items()))
        return {}, f"{cells[field][0]}: {reasons[0]}"
    return extras, None


def _process_kind_chunk(
    job: ImportJob, kind: ImportKind, chunk: list[tuple[int, list[str] | None, str | None]]
) -> None:
    """A registered kind's chunk: rows that are not CSV or not as wide as the header
    are refused here; the kind processes the rest."""
    rejected: list[ImportRowError] = []
    rows: list[tuple[int, list[str]]] = []
    cells_by_row: dict[int, list[str]] = {}
    for row_number, cells, parse_error in chunk:
        if parse_error or cells is None:
            reason = parse_error or "unreadable"
            rejected.append(_row_error(job, row_number, reason))
        elif len(cells) != len(job.headers):
            reason = f"has {len(cells)} columns, the header has {len(job.headers)}"
            values = _row_values(job.headers, cells)
            rejected.append(_row_error(job, row_number, reason, values))
        else:
            rows.append((row_number, cells))
            cells_by_row[row_number] = cells
    outcome = kind.process_chunk(job, rows)
    rejected.extend(
        _row_error(
            job, row_number, reason, _row_values(job.headers, cells_by_row.get(row_number, []))
        )
        for row_number, reason in outcome.rejected
    )
    ImportRowError.objects.bulk_create(sorted(rejected, key=lambda e: e.row_number))
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=F("processed_rows") + len(chunk),
        created_count=F("created_count") + outcome.created,
        unchanged_count=F("unchanged_count") + outcome.unchanged,
        rejected_count=F("rejected_count") + len(rejected),
        heartbeat_at=timezone.now(),
    )


def _row_values(headers: list[str], cells: list[str]) -> dict[str, str]:
    return {h: csv_value(c)[:500] for h, c in zip(headers, cells, strict=False)}


def import_jobs_stalled(*, older_than: dt.timedelta) -> list[int]:
    """Queued or running jobs with no progress for a while: their task was lost (a
    broker restart) or their worker died; the caller re-enqueues them."""
    cutoff = timezone.now() - older_than
    return list(
        ImportJob.objects.filter(
            status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING],
            heartbeat_at__lt=cutoff,
        ).values_list("pk", flat=True)
    )
