"""A contacts export too big for one request: queued, written by a worker to a private
file while the contacts page shows rows written of the total, then a download link
served only to the workspace's members (contacts/views/exports.py)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import tempfile
from urllib.parse import parse_qsl

from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.jobs import UserJobs
from contacts.models import ContactExport
from contacts.selectors import contact_list_filters, contacts_listed
from contacts.services.export import contacts_csv_rows
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# An export not finished in 30 minutes is taken to have died with its worker: the page
# stops waiting for it and a new one may be asked for. A finished export stays on the
# page (and downloadable) for KEEP; older files are deleted when the workspace asks for
# the next one.
KEEP = dt.timedelta(hours=24)
EXPORTS = UserJobs(
    model=ContactExport, task="contacts.export_run", stale=dt.timedelta(minutes=30), recent=KEEP
)
# Progress is written after every this many rows (one small UPDATE each).
PROGRESS_EVERY = 2000


def contact_export_request(
    *, workspace: Workspace, query: str, requested_by: str = ""
) -> ContactExport:
    """Queue an export of the contacts the list shows for `query` (its query string),
    or return the one already queued or running for the same filters."""
    contact_exports_forget(workspace=workspace)
    return EXPORTS.request(
        workspace=workspace,
        requested_by=requested_by,
        same=lambda pending: pending.query == query,
        token=secrets.token_urlsafe(24),
        query=query[:2000],
    )


def contact_exports_forget(*, workspace: Workspace | None = None, finished: bool = False) -> int:
    """Delete exports asked for more than KEEP ago, and their files (beat, hourly, and
    before each new export of a workspace); with `finished`, every finished export of
    the workspace too: after an erasure its files may hold the erased contact. Files
    go after the commit, so a rolled-back erasure leaves them downloadable."""
    forget = Q(requested_at__lt=timezone.now() - KEEP)
    if finished:
        forget |= Q(finished_at__isnull=False)
    exports = ContactExport.objects.filter(forget)
    if workspace is not None:
        exports = exports.filter(workspace=workspace)
    names = list(exports.exclude(file="").values_list("file", flat=True))
    count, _ = exports.delete()
    transaction.on_commit(lambda: _files_delete(names))
    return count


def _files_delete(names: list[str]) -> None:
    storage = ContactExport._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def contact_export_run(*, export_id: int) -> ContactExport | None:
    """Write a queued export (once: a second delivery of the task finds it taken).

    1. Claim the row with a conditional UPDATE only one delivery can win.
    2. Count the contacts (the total the page shows), then write the CSV to a
       temporary file, saving the rows written every PROGRESS_EVERY rows outside any
       transaction so the page sees them at once.
    3. Store the file under its unguessable name and mark the export finished."""
    if not EXPORTS.claim(export_id):
        return None
    export = ContactExport.objects.select_related("workspace").get(pk=export_id)
    try:
        _write(export)
    except Exception:
        export.error = "The export failed on our side; it has been logged."
        logger.exception("contacts.export_failed export=%s", export_id)
    export.finished_at = timezone.now()
    export.save(update_fields=["error", "file", "rows_written", "finished_at"])
    return export


def _write(export: ContactExport) -> None:
    filters = contact_list_filters(dict(parse_qsl(export.query)))
    queryset = contacts_listed(workspace=export.workspace, filters=filters)
    total = queryset.count()
    ContactExport.objects.filter(pk=export.pk).update(total=total)
    export.total = total
    written = -1  # the header row is not a contact
    with tempfile.TemporaryFile(mode="w+b") as buffer:
        for line in contacts_csv_rows(queryset):
            buffer.write(line.encode("utf-8"))
            written += 1
            if written and written % PROGRESS_EVERY == 0:
                ContactExport.objects.filter(pk=export.pk).update(rows_written=written)
        buffer.seek(0)
        export.rows_written = max(written, 0)
        export.file.save(f"{export.token}.csv", File(buffer), save=False)


def contact_export_status(*, workspace: Workspace) -> ContactExport | None:
    """The export to show on the contacts page: one queued or running, or the latest
    finished one while its file is kept."""
    return EXPORTS.shown(workspace=workspace)


def contact_export_for_download(*, workspace: Workspace, token: str) -> ContactExport | None:
    """A finished export of this workspace with its file, by its token; None for
    anything else (another workspace's token included)."""
    return (
        ContactExport.objects.filter(
            workspace=workspace, token=token, finished_at__isnull=False, error=""
        )
        .exclude(file="")
        .first()
    )
