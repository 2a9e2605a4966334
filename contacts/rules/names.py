"""The event names a rule reads, and which way one more event of a name can turn its
answer. Used to tell the engine which news is urgent (contacts/services/marks.py,
lifecycle/urgency.py); a name counted where it cannot act only makes more news
urgent, never an answer wrong."""

from __future__ import annotations

from typing import Any

from contacts.models import Segment
from contacts.rules.registry import FIELDS
from workspaces.models import Workspace

# In event_name_turns' answer: any event at all (the rule reads data that may follow
# from any event).
ANY_EVENT = "*"

# Which way a comparison of a count that grows by one can turn: true→false ("fall")
# or false→true ("rise").
_CMP_TURNS = {
    "gt": {"rise"},
    "gte": {"rise"},
    "lt": {"fall"},
    "lte": {"fall"},
    "eq": {"rise", "fall"},
    "neq": {"rise", "fall"},
}


class _Effects:
    """Names by the ways one more event of theirs can turn the rule's answer."""

    def __init__(self) -> None:
        self.rise: set[str] = set()
        self.fall: set[str] = set()

    def add(self, names: set[str] | list[str], turns: set[str]) -> None:
        if "rise" in turns:
            self.rise.update(names)
        if "fall" in turns:
            self.fall.update(names)


def event_names_read(workspace: Workspace, node: Any) -> set[str]:
    """Every event name `node` reads at any depth: an event condition's name (also
    in a journey's {"event": {"name": ...}}), the workspace's purchase names for a
    purchases or revenue condition, and those of the segments it names (their rules
    as saved, each once)."""
    names: set[str] = set()
    _walk(workspace, node, names, set())
    return names


def _walk(workspace: Workspace, node: Any, names: set[str], seen: set[int]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(workspace, item, names, seen)
        return
    if not isinstance(node, dict):
        return
    event = node.get("event")
    if isinstance(event, str):
        names.add(event)
    elif isinstance(event, dict) and isinstance(event.get("name"), str):
        names.add(event["name"])
    if "purchases" in node or "revenue" in node:
        names.update(workspace.purchase_event_names)
    segment = node.get("segment")
    if isinstance(segment, int) and not isinstance(segment, bool) and segment not in seen:
        seen.add(segment)
        _walk(workspace, _segment_rule(workspace, segment), names, seen)
    for value in node.values():
        _walk(workspace, value, names, seen)


def event_name_turns(workspace: Workspace, rule: Any) -> tuple[set[str], set[str]]:
    """(names one more event of which can turn the rule from false to true, names
    one more event of which can turn it from true to false), whenever the event
    happened, the rest of the contact's data as it is.

    One more event raises a count (within any window it falls in) and can only move
    a "last" later: a count compared with `gte`/`gt` and `last` within N days can only
    rise, `lt`/`lte` only fall, `eq`/`neq` either way; `last` older than N days and
    `first` either way (a late event can be the first, or older than the window);
    revenue either way (a refund is negative). `all` and `any` keep their parts'
    ways, `not` swaps them, a segment is its rule. An attribute or a field of the
    contact's own row reads no event; any other condition (a stage, points, messages)
    reads data that may follow from any event: ANY_EVENT, both ways."""
    effects = _Effects()
    _turns(workspace, rule, effects, negated=False, seen=set())
    return effects.rise, effects.fall


def _turns(
    workspace: Workspace, node: Any, into: _Effects, *, negated: bool, seen: set[int]
) -> None:
    if not isinstance(node, dict):
        return
    if "all" in node or "any" in node:
        for child in node.get("all") or node.get("any") or []:
            _turns(workspace, child, into, negated=negated, seen=seen)
        return
    if "not" in node:
        _turns(workspace, node["not"], into, negated=not negated, seen=seen)
        return
    turns: set[str] = set()
    names: list[str] = []
    if "event" in node:
        names = [node["event"]]
        turns |= _count_turns(node.get("count", {"gte": 1}))
        if "first" in node:
            turns |= {"rise", "fall"}
        if "last" in node:
            ((kind, _),) = node["last"].items()
            # a recency test also needs one such event: that part only rises
            turns |= {"rise", "fall"} if kind == "older_than_days" else {"rise"}
    elif "purchases" in node:
        names = list(workspace.purchase_event_names)
        turns = _count_turns(node["purchases"])
    elif "revenue" in node:
        names = list(workspace.purchase_event_names)
        turns = {"rise", "fall"}
    elif "segment" in node:
        segment = node["segment"]
        if isinstance(segment, int) and segment not in seen:
            _turns(
                workspace,
                _segment_rule(workspace, segment),
                into,
                negated=negated,
                seen=seen | {segment},
            )
        return
    elif "attr" in node or ("field" in node and _contact_row(node["field"])):
        return  # the contact's own row: an event does not change it
    else:
        # A stage, points, a prediction, messages, answers...: other apps' data, which
        # may follow from any event and from the engine's work on it.
        into.add([ANY_EVENT], {"rise", "fall"})
        return
    if negated:
        turns = {{"rise": "fall", "fall": "rise"}[t] for t in turns}
    into.add(names, turns)


def _contact_row(field: Any) -> bool:
    spec = FIELDS.get(field) if isinstance(field, str) else None
    return spec is not None and spec.contact_row


def _count_turns(cmp: Any) -> set[str]:
    turns: set[str] = set()
    for key in cmp if isinstance(cmp, dict) else ():
        turns |= _CMP_TURNS.get(key, {"rise", "fall"})
    return turns or {"rise", "fall"}


def _segment_rule(workspace: Workspace, segment_id: int) -> Any:
    return (
        Segment.objects.filter(workspace=workspace, pk=segment_id)
        .values_list("rule", flat=True)
        .first()
    )
