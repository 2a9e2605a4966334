"""Celery tasks for messaging: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from messaging.services.claims import message_dispatch_due
from messaging.services.dispatch import messages_send


@shared_task(name="messaging.dispatch_due", acks_late=True, ignore_result=True)
def dispatch_due() -> int:
    return message_dispatch_due()


@shared_task(name="messaging.send_messages", acks_late=True, ignore_result=True)
def send_messages(claims: list[list[int]]) -> dict[str, int]:
    # A lost or repeated task is harmless: rows are re-claimed from the database after
    # their lease, and a claim that is no longer current is skipped.
    return messages_send(claims=[(int(i), int(a)) for i, a in claims])
