"""Which ingested events are urgent for the stage engine (contacts.hooks.MARK_URGENCY).

A contact the rules placed sits in the first stage, in evaluation order, whose rule
it meets, or in the default stage: the rules before its stage say no, its own says
yes. One more event can only turn a rule's answer the ways its conditions allow
(contacts/rules/names.py: a "5 page views" count only from no to yes), so an event
that can turn no rule before the contact's stage to yes, nor its own to no, leaves
it where it is: it waits its turn behind the news that can move someone (time-based
changes are the due runs'; a late event that rewrites the contact's past waits too).
Every other event is urgent, as is any event of a contact the rules did not place
where it is (never evaluated, or moved there by hand or by an import, unpinned),
or in a stage created since the names were read, or when a rule reads data that
may follow from any event (a stage, points, a prediction)."""

from __future__ import annotations

import json
from typing import Any

from contacts.hooks import urgency_memo
from contacts.rules.names import ANY_EVENT, event_name_turns
from lifecycle.selectors import stages_for_workspace
from workspaces.models import Workspace

# Not urgent only when the contact has a stage whose names leave this event's out, and
# the rules placed it there (its last move is theirs) or a pin holds it there.
_CONDITION = """NOT EXISTS (
    SELECT 1 FROM lifecycle_contactstage cs
    WHERE cs.contact_id = u.contact_id AND cs.workspace_id = %(ws)s
      AND NOT coalesce((%(lifecycle_names)s::jsonb -> cs.stage_id::text) ? u.name, true)
      AND (cs.pinned AND (cs.pinned_until IS NULL OR cs.pinned_until > now())
           OR (SELECT t.cause FROM lifecycle_stagetransition t
               WHERE t.contact_id = u.contact_id AND t.workspace_id = %(ws)s
               ORDER BY t.at DESC, t.id DESC LIMIT 1) = 'rule'))"""


def names_by_stage(workspace: Workspace) -> dict[int, list[str]]:
    """Per stage id: the event names one more event of which can move a contact the
    rules placed there: those that can turn a rule before it true, or its own false
    (the default stage: any rule true). A stage where any event can (a rule before it
    or its own reads a stage, points...) is left out: every event is urgent there."""
    rise_before: set[str] = set()
    out: dict[int, list[str]] = {}
    for stage in stages_for_workspace(workspace=workspace):  # the default last
        rise: set[str] = set()
        fall: set[str] = set()
        if not stage.is_default and stage.rule:
            rise, fall = event_name_turns(workspace, stage.rule)
        if ANY_EVENT not in rise_before | fall:
            out[stage.pk] = sorted(rise_before | fall)
        rise_before |= rise
    return out


@urgency_memo
def stage_news_urgency(workspace: Workspace) -> tuple[str, dict[str, Any]]:
    by_stage = {str(pk): names for pk, names in names_by_stage(workspace).items()}
    return _CONDITION, {"lifecycle_names": json.dumps(by_stage)}
