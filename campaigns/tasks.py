"""Celery tasks for messaging: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from campaigns.services.dispatch import message_dispatch_due, messages_send


@shared_task(name="campaigns.dispatch_due", acks_late=True, ignore_result=True)
def dispatch_due() -> int:
    return message_dispatch_due()


@shared_task(name="campaigns.send_messages", acks_late=True, ignore_result=True)
def send_messages(claims: list[list[int]]) -> dict[str, int]:
    # A lost or repeated task is harmless: rows are re-claimed from the database after
    # their lease, and a claim that is no longer current is skipped.
    return messages_send(claims=[(int(i), int(a)) for i, a in claims])


@shared_task(name="campaigns.broadcast_materialise", acks_late=True, ignore_result=True)
def broadcast_materialise_task(broadcast_id: int) -> int:
    # Twice is harmless: rows already in the outbox are skipped by their key.
    from campaigns.services.broadcast_delivery import broadcast_materialise

    return broadcast_materialise(broadcast_id=int(broadcast_id))


@shared_task(name="campaigns.broadcasts_advance", acks_late=True, ignore_result=True)
def broadcasts_advance_task() -> dict[str, int]:
    from campaigns.services.broadcast_delivery import broadcasts_advance

    return broadcasts_advance()


@shared_task(name="campaigns.journeys_advance", acks_late=True, ignore_result=True)
def journeys_advance_task() -> int:
    # Several at once share the work (SKIP LOCKED); a lost one is replaced by beat.
    from campaigns.services.journey_engine import journeys_pump

    return journeys_pump()


@shared_task(name="campaigns.journeys_scan", acks_late=True, ignore_result=True)
def journeys_scan_task(dates: bool = False) -> dict[str, int]:
    from campaigns.services.journey_triggers import journeys_scan

    return journeys_scan(dates=dates)
