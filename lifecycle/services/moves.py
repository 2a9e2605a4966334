"""Manual stage moves (dashboard or API) and pins."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput, NotFound
from contacts.models import Contact
from contacts.rules import Scope
from contacts.services import contacts_hold, contacts_mark_changed
from lifecycle.models import Cause, ContactStage, Stage, StageTransition
from lifecycle.services.due import contacts_due_store
from workspaces.services import Actor

logger = logging.getLogger(__name__)


@transaction.atomic
def contact_stage_set(
    *,
    contact: Contact,
    stage: Stage,
    actor: Actor,
    reason: str = "",
    pin: bool = True,
    pinned_until: dt.datetime | None = None,
) -> StageTransition | None:
    """Move a contact by hand. Pinned (the default) until `pinned_until`, or until
    unpinned when that is None, rules leave it there. Returns the transition, or
    None if it was already in that stage (its pin is still updated)."""
    if stage.workspace_id != contact.workspace_id or stage.archived_at is not None:
        raise InvalidInput("No such stage in this workspace.", fields={"stage": ["unknown"]})
    now = timezone.now()
    if pinned_until is not None and pinned_until <= now:
        raise InvalidInput(
            "The pin must end in the future.", fields={"pinned_until": ["is in the past"]}
        )
    # The contact before its stage row: the lock order of every writer (an erasure
    # locks the contact, then deletes the stage row).
    if not contacts_hold(contact_ids=[contact.pk]):
        raise NotFound("No such contact.")
    current = ContactStage.objects.select_for_update().filter(contact=contact).first()
    cause = Cause.API if actor.api_key is not None else Cause.MANUAL
    if current is not None and current.stage_id == stage.pk:
        current.pinned, current.pinned_until = pin, pinned_until if pin else None
        current.save(update_fields=["pinned", "pinned_until"])
        # A pin's end is a due moment (the rules act again then).
        contacts_due_store(workspace=stage.workspace, scope=Scope.of([contact.pk]), now=now)
        return None
    from_stage_id = current.stage_id if current else None
    ContactStage.objects.update_or_create(
        contact=contact,
        defaults={
            "workspace_id": contact.workspace_id,
            "stage": stage,
            "entered_at": now,
            "pinned": pin,
            "pinned_until": pinned_until if pin else None,
        },
    )
    contacts_due_store(workspace=stage.workspace, scope=Scope.of([contact.pk]), now=now)
    return StageTransition.objects.create(
        workspace_id=contact.workspace_id,
        contact=contact,
        from_stage_id=from_stage_id,
        to_stage=stage,
        at=now,
        cause=cause,
        rule_version=stage.rule_version,
        reason=reason[:2000],
        actor_user=actor.user,
        actor_api_key=actor.api_key,
    )


@transaction.atomic
def contact_stage_unpin(*, contact: Contact, actor: Actor) -> None:
    """Let the rules move the contact again, from its next evaluation (soon: it is
    marked now)."""
    ContactStage.objects.filter(contact=contact).update(pinned=False, pinned_until=None)
    contacts_mark_changed(contact_ids=[contact.pk], source="api" if actor.api_key else "rule")
