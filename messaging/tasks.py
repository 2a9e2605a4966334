"""Celery tasks for messaging: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from config.queue import publish
from messaging.services import domains
from messaging.services.claims import message_dispatch_due
from messaging.services.dispatch import messages_send
from workspaces.services import Actor


@shared_task(name="messaging.dispatch_due", acks_late=True, ignore_result=True)
def dispatch_due() -> int:
    return message_dispatch_due()


@shared_task(name="messaging.send_messages", acks_late=True, ignore_result=True)
def send_messages(claims: list[list[int]]) -> dict[str, int]:
    # A lost or repeated task is harmless: rows are re-claimed from the database after
    # their lease, and a claim that is no longer current is skipped.
    return messages_send(claims=[(int(i), int(a)) for i, a in claims])


@shared_task(name="messaging.sending_domain_verify", acks_late=True, ignore_result=True)
def sending_domain_verify(domain_id: int) -> str | None:
    # Safe to run twice: it only looks the records up again and records the result.
    record = domains.sending_domain_verify(
        domain_id=int(domain_id), actor=Actor(system="sending_domain_check")
    )
    return record.status if record else None


@shared_task(name="messaging.sending_domains_check_due", acks_late=True, ignore_result=True)
def sending_domains_check_due() -> int:
    due = domains.sending_domains_due()
    for domain_id in due:
        publish("messaging.sending_domain_verify", domain_id)
    return len(due)
