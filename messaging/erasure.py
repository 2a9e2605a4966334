"""A contact's erasure takes its messages (rendered bodies hold personal data), their
tracking events and the sandbox's copies with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from messaging.models import Message, SandboxDelivery, TrackingEvent

if TYPE_CHECKING:
    from contacts.models import Contact


def messages_erase_for_contact(contact: Contact) -> None:
    ids = list(Message.objects.filter(contact_id=contact.pk).values_list("pk", flat=True))
    SandboxDelivery.objects.filter(message_id__in=ids).delete()
    TrackingEvent.objects.filter(message_id__in=ids).delete()
    Message.objects.filter(pk__in=ids).delete()
