"""CSV import through a real Celery worker, including one killed mid-import."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact, ImportJob
from contacts.tasks import import_run
from tests.processes import Worker, purge_broker, running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _csv(rows: int) -> SimpleUploadedFile:
    body = "email,first_name,plan\n" + "".join(
        f"person{i}@example.com,Person {i},{'pro' if i % 3 else 'free'}\n" for i in range(rows)
    )
    return SimpleUploadedFile("people.csv", body.encode(), content_type="text/csv")


def _job(pk: int) -> ImportJob:
    return ImportJob.objects.get(pk=pk)


def test_api_import_is_run_by_the_worker(api, ws):
    purge_broker()
    with running_worker():
        job = api.post(
            "/api/v1/imports/",
            {
                "file": _csv(2500),
                "mapping": '{"email": "email", "first_name": "first_name", '
                '"plan": "attributes.plan"}',
                "match_on": "email",
            },
            format="multipart",
        ).json()
        wait_for(lambda: _job(job["id"]).status == "completed", timeout=60)
    job = _job(job["id"])
    assert (job.created_count, job.rejected_count, job.processed_rows) == (2500, 0, 2500)
    assert Contact.objects.filter(workspace=ws, attributes__plan="pro").count() == 1666


def test_killed_worker_loses_no_row_and_applies_none_twice(api, ws):
    """SIGKILL the worker mid-import; the re-enqueued job (what the stall sweeper does)
    finishes from its last checkpoint: every row created exactly once."""
    purge_broker()
    rows = 60_000
    worker = Worker().start()
    try:
        job = api.post(
            "/api/v1/imports/",
            {
                "file": _csv(rows),
                "mapping": '{"email": "email", "first_name": "first_name"}',
                "match_on": "email",
            },
            format="multipart",
        ).json()
        wait_for(lambda: 0 < _job(job["id"]).processed_rows < rows, timeout=60, interval=0.02)
        worker.kill()
    finally:
        worker.stop()
    interrupted = _job(job["id"])
    assert interrupted.status == "running"
    assert interrupted.processed_rows < rows
    purge_broker()
    with running_worker():
        import_run.delay(job["id"])
        wait_for(lambda: _job(job["id"]).status == "completed", timeout=120)
    done = _job(job["id"])
    assert (
        done.processed_rows,
        done.created_count,
        done.updated_count,
        done.unchanged_count,
        done.rejected_count,
    ) == (rows, rows, 0, 0, 0)
    assert Contact.objects.filter(workspace=ws).count() == rows
