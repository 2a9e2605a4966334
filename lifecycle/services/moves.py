"""Manual stage moves (dashboard or API), pins, and evaluating marked contacts."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import Contact
from contacts.rules import Scope
from contacts.services import contact_marks_claim, contacts_mark_changed, event_summaries_refresh
from lifecycle.hooks import contacts_refreshed
from lifecycle.models import Cause, ContactStage, Stage, StageTransition
from lifecycle.services.evaluation import stages_evaluate
from workspaces.models import Workspace
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
    current = ContactStage.objects.select_for_update().filter(contact=contact).first()
    cause = Cause.API if actor.api_key is not None else Cause.MANUAL
    if current is not None and current.stage_id == stage.pk:
        current.pinned, current.pinned_until = pin, pinned_until if pin else None
        current.save(update_fields=["pinned", "pinned_until"])
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


_CAUSE_OF_SOURCE = {"api": Cause.API, "import": Cause.IMPORT, "rule": Cause.RULE}


def marked_contacts_evaluate(*, limit: int = 2000, now: dt.datetime | None = None) -> int:
    """Evaluate a batch of contacts whose data changed; returns how many.

    1. Claim up to `limit` marks (SKIP LOCKED: workers share the queue).
    2. Recompute those contacts' event summaries from their events.
    3. Evaluate their stages, one statement per workspace and cause.
    4. Let other apps refresh what they derive from these contacts (analytics).
    All in one transaction: a worker killed mid-way leaves the marks in place."""
    with transaction.atomic():
        marks = contact_marks_claim(limit=limit)
        if not marks:
            return 0
        event_summaries_refresh(contact_ids=[contact_id for contact_id, _, _ in marks])
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for contact_id, workspace_id, source in marks:
            groups[(workspace_id, _CAUSE_OF_SOURCE.get(source, Cause.RULE))].append(contact_id)
        workspaces = Workspace.objects.in_bulk({workspace_id for workspace_id, _ in groups})
        moved = 0
        for (workspace_id, cause), ids in groups.items():
            moved += stages_evaluate(
                workspace=workspaces[workspace_id], scope=Scope.of(ids), cause=cause, now=now
            )
        contacts_refreshed([contact_id for contact_id, _, _ in marks])
    logger.info("lifecycle.marked_evaluated contacts=%s moved=%s", len(marks), moved)
    return len(marks)
