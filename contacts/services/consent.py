"""Consent and the suppression list: every change of a contact's email or SMS status
is a ConsentChange row; a suppressed address or number is never sent to."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import (
    Channel,
    ConsentChange,
    Contact,
    EmailStatus,
    SmsStatus,
    Suppression,
)
from contacts.services.contacts import mark_source, value_hash
from contacts.services.marks import contacts_mark_changed
from workspaces.models import Workspace


@transaction.atomic
def consent_set(*, contact: Contact, channel: str, status: str, source: str) -> bool:
    """Set one channel's consent and record it; True if it changed."""
    field_name = "email_status" if channel == Channel.EMAIL else "sms_status"
    valid = EmailStatus.values if channel == Channel.EMAIL else SmsStatus.values
    if status not in valid:
        raise InvalidInput(f"Unknown {channel} status.", fields={field_name: [status]})
    now = timezone.now()
    changed = (
        Contact.objects.filter(pk=contact.pk)
        .exclude(**{field_name: status})
        .update(
            **{
                field_name: status,
                f"{field_name}_at": now,
                f"{field_name}_source": source,
                "updated_at": now,
            }
        )
    )
    if changed:
        ConsentChange.objects.create(
            workspace_id=contact.workspace_id,
            contact_id=contact.pk,
            channel=channel,
            status=status,
            source=source,
            created_at=now,
        )
        setattr(contact, field_name, status)
        contacts_mark_changed(contact_ids=[contact.pk], source=mark_source(source))
    return bool(changed)


@transaction.atomic
def suppression_add(*, workspace: Workspace, channel: str, value: str, reason: str) -> None:
    Suppression.objects.get_or_create(
        workspace=workspace,
        channel=channel,
        value_hash=value_hash(channel, value),
        defaults={"reason": reason},
    )
