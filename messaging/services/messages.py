"""Putting messages in the outbox. A message is a row before anything is sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import Contact
from messaging.models import Message, Template


@dataclass(frozen=True)
class Enqueued:
    message: Message
    created: bool


@transaction.atomic
def message_enqueue(
    *,
    contact: Contact,
    template: Template,
    idempotency_key: str,
    due_at: dt.datetime | None = None,
    transactional: bool = False,
) -> Enqueued:
    """Schedule `template` for `contact`. The same idempotency key in a workspace
    always names the same message: a second call returns the first row unchanged
    (INSERT … ON CONFLICT DO NOTHING, so concurrent callers cannot both create).
    A transactional message (a receipt, a reset link) bypasses frequency caps and
    quiet hours."""
    if template.workspace_id != contact.workspace_id:
        raise InvalidInput("The template belongs to another workspace.")
    key = idempotency_key.strip()
    if not key or len(key) > 200:
        raise InvalidInput(
            "idempotency_key must be 1-200 characters.", fields={"idempotency_key": ["1-200"]}
        )
    row = Message(
        workspace_id=contact.workspace_id,
        contact=contact,
        channel=template.channel,
        template=template,
        idempotency_key=key,
        due_at=due_at or timezone.now(),
        transactional=transactional,
    )
    created = Message.objects.bulk_create(
        [row], ignore_conflicts=True, unique_fields=["workspace", "idempotency_key"]
    )
    # bulk_create with ignore_conflicts sets no pk: read the row that now holds the key.
    message = Message.objects.get(workspace_id=contact.workspace_id, idempotency_key=key)
    return Enqueued(message=message, created=message.uuid == created[0].uuid)


def messages_enqueue_bulk(
    *,
    template: Template,
    contact_ids: list[int],
    key_prefix: str,
    due_at: dt.datetime | None = None,
    batch_size: int = 5000,
) -> int:
    """Schedule `template` for many contacts in one statement per batch; the key is
    `<key_prefix>:<contact id>`, so running it again adds nothing. Returns rows added."""
    when = due_at or timezone.now()
    added = 0
    for start in range(0, len(contact_ids), batch_size):
        chunk = contact_ids[start : start + batch_size]
        keys = [f"{key_prefix}:{cid}" for cid in chunk]
        existing = Message.objects.filter(workspace_id=template.workspace_id)
        with transaction.atomic():
            before = existing.filter(idempotency_key__in=keys).count()
            Message.objects.bulk_create(
                [
                    Message(
                        workspace_id=template.workspace_id,
                        contact_id=cid,
                        channel=template.channel,
                        template=template,
                        idempotency_key=f"{key_prefix}:{cid}",
                        due_at=when,
                    )
                    for cid in chunk
                ],
                ignore_conflicts=True,
            )
            added += existing.filter(idempotency_key__in=keys).count() - before
    return added
