"""Erasing a contact: its rows and those of every app that registered an erasure
hook go in one transaction; the audit log keeps that it happened."""

from __future__ import annotations

import random
import time

import psycopg
from django.db import OperationalError, connection, transaction

from contacts.hooks import ERASURE_HOOKS
from contacts.models import (
    Channel,
    Contact,
    EmailStatus,
    Suppression,
)
from contacts.services.consent import suppression_add
from contacts.services.export_jobs import contact_exports_forget
from contacts.services.marks import contact_marks_discard
from contacts.services.segment_members import segment_members_forget_contact
from workspaces.services import Actor, audit_record


def contact_erase(*, contact: Contact, actor: Actor) -> None:
    """Erase a contact's personal data (GDPR art. 17): the contact, its events and its
    consent history go; what remains is a hash of its email and phone on the
    suppression list, so that it is never messaged again by accident, and an audit
    entry naming only the contact's former id.

    Locks in the order every writer uses: the contact row first (an event being
    recorded for it waits, then finds it gone and creates a new contact with that
    email), then its marks (an engine step acting on it finishes first, and no later
    one acts on it), then whatever the hooks take out of derived data. Should
    PostgreSQL still roll it back as a deadlock's victim, it runs again (twice at most;
    inside a caller's transaction the error is the caller's)."""
    for attempt in range(3):
        if attempt:
            time.sleep(random.uniform(0.01, 0.05) * attempt)  # apart from the other party
        try:
            _erase(contact=contact, actor=actor)
            return
        except OperationalError as error:
            deadlock = isinstance(error.__cause__, psycopg.errors.DeadlockDetected)
            if not deadlock or attempt == 2 or connection.in_atomic_block:
                raise


@transaction.atomic
def _erase(*, contact: Contact, actor: Actor) -> None:
    if not Contact.objects.select_for_update().filter(pk=contact.pk).exists():
        return  # erased meanwhile by another request
    contact_marks_discard(contact_id=contact.pk)
    reason_for: dict[str, str] = {
        EmailStatus.BOUNCED: Suppression.Reason.BOUNCED,
        EmailStatus.COMPLAINED: Suppression.Reason.COMPLAINED,
    }
    if contact.email:
        suppression_add(
            workspace=contact.workspace,
            channel=Channel.EMAIL,
            value=contact.email,
            reason=reason_for.get(EmailStatus(contact.email_status), Suppression.Reason.ERASED),
        )
    if contact.phone:
        suppression_add(
            workspace=contact.workspace,
            channel=Channel.SMS,
            value=contact.phone,
            reason=Suppression.Reason.ERASED,
        )
    contact_id = contact.pk
    segment_members_forget_contact(contact_id=contact_id)
    for hook in ERASURE_HOOKS:
        hook(contact)
    contact.delete()
    # A finished export of the workspace may list the contact: it goes with it.
    contact_exports_forget(workspace=contact.workspace, finished=True)
    audit_record(
        workspace=contact.workspace,
        action="contact.erased",
        actor=actor,
        object_type="contact",
        object_id=contact_id,
    )
