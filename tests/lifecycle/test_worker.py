"""The engine run by real processes: Celery beat ticks, a worker drains the marks, and
a contact's stage follows its events with nobody calling anything."""

from __future__ import annotations

import time

import pytest

from lifecycle.models import ContactStage
from lifecycle.services import stages_create_defaults
from tests.processes import Beat, Worker, purge_broker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def stage_key(email: str) -> str | None:
    row = ContactStage.objects.filter(contact__email=email).select_related("stage").first()
    return row.stage.key if row else None


def test_events_move_contacts_through_beat_and_worker(api, ws):
    stages_create_defaults(workspace=ws)
    purge_broker()
    worker = Worker(concurrency=2).start()
    beat = Beat().start()
    try:
        api.post(
            "/api/v1/events/",
            {"contact": {"email": "new@example.com"}, "name": "signed_up"},
            format="json",
        )
        wait_for(lambda: stage_key("new@example.com") == "subscriber", timeout=30)
        started = time.monotonic()
        api.post(
            "/api/v1/events/",
            {
                "batch": [
                    {"contact": {"email": "new@example.com"}, "name": "purchase", "revenue": "20"},
                    {"contact": {"email": "new@example.com"}, "name": "purchase", "revenue": "35"},
                ]
            },
            format="json",
        )
        wait_for(lambda: stage_key("new@example.com") == "repeat", timeout=30)
        took = time.monotonic() - started
    finally:
        beat.stop()
        worker.stop()
    assert took < 10, f"the stage took {took:.1f}s to follow the events"
    assert "lifecycle.evaluate_marked" in worker.output()
