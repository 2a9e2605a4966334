"""Celery tasks of the contacts app: thin, take ids, safe to run twice."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings

from contacts import services


@shared_task(name="contacts.import_run", acks_late=True)
def import_run(job_id: int) -> None:
    services.import_job_run(job_id=job_id)


@shared_task(name="contacts.export_run", acks_late=True)
def export_run(export_id: int) -> None:
    """Write a contacts export; a second delivery finds the row claimed and stops."""
    services.contact_export_run(export_id=export_id)


@shared_task(name="contacts.exports_forget")
def exports_forget() -> int:
    """Delete contacts exports (and their files) older than a day (beat, hourly)."""
    return services.contact_exports_forget()


@shared_task(name="contacts.import_resume_stalled")
def import_resume_stalled() -> int:
    """Re-enqueue imports whose task was lost (broker restart) or whose worker died."""
    stalled = services.import_jobs_stalled(
        older_than=dt.timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    )
    for job_id in stalled:
        import_run.delay(job_id)
    return len(stalled)


@shared_task(name="contacts.segment_members_build", acks_late=True)
def segment_members_build(segment_id: int) -> bool:
    """Build a segment's stored members from its rule; a repeated or late run diffs
    against what is stored and marks the segment ready only for its current rule."""
    return services.segment_members_build(segment_id=segment_id)


@shared_task(name="contacts.segment_members_refresh_due")
def segment_members_refresh_due() -> int:
    """Beat: queue a build of every segment whose rule drifts with time (and of any
    never built, its task lost)."""
    due = services.segment_members_due()
    for segment_id in due:
        segment_members_build.delay(segment_id)
    return len(due)
