"""Celery tasks for broadcasts and journeys: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.journeys.browse_scan import browse_scan
from campaigns.journeys.engine import journeys_pump
from campaigns.journeys.segment_trigger import journeys_scan


@shared_task(name="campaigns.broadcast_materialise", acks_late=True, ignore_result=True)
def broadcast_materialise_task(broadcast_id: int) -> int:
    # Twice is harmless: rows already in the outbox are skipped by their key.
    return broadcast_materialise(broadcast_id=int(broadcast_id))


@shared_task(name="campaigns.broadcasts_advance", acks_late=True, ignore_result=True)
def broadcasts_advance_task() -> dict[str, int]:
    return broadcasts_advance()


@shared_task(name="campaigns.journeys_advance", acks_late=True, ignore_result=True)
def journeys_advance_task() -> int:
    # Several at once share the work (SKIP LOCKED); a lost one is replaced by beat.
    return journeys_pump()


@shared_task(name="campaigns.journeys_scan", acks_late=True, ignore_result=True)
def journeys_scan_task(dates: bool = False) -> dict[str, int]:
    return journeys_scan(dates=dates)


@shared_task(name="campaigns.browse_scan", acks_late=True, ignore_result=True)
def browse_scan_task() -> int:
    # Each journey's watermark row is claimed with SKIP LOCKED and moved in the
    # transaction that enrols: a repeated or concurrent run judges no window twice.
    return browse_scan()
