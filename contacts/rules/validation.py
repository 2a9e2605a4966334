"""Checking a rule before it is saved or run.

Every problem is reported with the path of the node it is in, e.g.
`all[2].event.count: must be an object like {"gte": 2}`; the API answers 400 with
those paths as the error's fields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from config.errors import InvalidInput
from contacts.models import Segment
from contacts.rules.registry import (
    ATTRIBUTE_OPS,
    CONDITIONS,
    FIELDS,
    OPS_BY_KIND,
    RULE_HOLDERS,
)
from contacts.rules.values import (
    MAX_DAYS,
    MAX_LIST,
    SINGLE_VALUE,
    is_number,
    item_problem,
    parse_moment,
)
from contacts.validation import ATTRIBUTE_KEY
from workspaces.models import Workspace

CMP_KEYS = ("eq", "neq", "gt", "gte", "lt", "lte")
MAX_DEPTH = 12
MAX_NODES = 300
# A segment reference is compiled by inlining the segment's rule, so what PostgreSQL
# runs is the rule with every reference expanded: twenty references to segments of
# twenty references each, three levels deep, made 8,421 conditions and an 18 s preview.
# These bound the expansion (the compiler checks them too).
MAX_EXPANDED_NODES = 600
MAX_SEGMENT_DEPTH = 3
NODE_KEYS = {
    "all": {"all"},
    "any": {"any"},
    "not": {"not"},
    "field": {"field", "op", "value"},
    "attr": {"attr", "op", "value"},
    "event": {"event", "count", "within_days", "between", "where", "first", "last"},
    "revenue": {"revenue", "within_days", "between"},
    "purchases": {"purchases", "within_days", "between"},
    "segment": {"segment"},
}


class Expansion:
    """What a rule costs with its segment references expanded, shared by the
    validators of the referenced segments' rules. `overrides` stands in for saved
    segment rules (a segment being changed, checked against the rules that use it)."""

    def __init__(self, overrides: dict[int, Any] | None = None) -> None:
        self.nodes = 0
        self.rules: dict[int, Any] = dict(overrides or {})
        self.exceeded = False

    def rule_of(self, workspace: Workspace, segment_id: int) -> Any:
        """The segment's rule (None if it does not exist), read once per check."""
        if segment_id not in self.rules:
            self.rules[segment_id] = (
                Segment.objects.filter(workspace=workspace, pk=segment_id)
                .values_list("rule", flat=True)
                .first()
            )
        return self.rules[segment_id]


def expansion_limit_reason() -> str:
    return f"with the segments it uses, a rule may have at most {MAX_EXPANDED_NODES} conditions"


class Validator:
    """Walks a rule, collecting {path: [reasons]}."""

    def __init__(
        self, workspace: Workspace | None, expansion: Expansion | None = None, references: int = 0
    ) -> None:
        self.workspace = workspace
        self.errors: dict[str, list[str]] = {}
        self.nodes = 0
        self.segments: list[int] = []
        self.expansion = expansion or Expansion()
        self.references = references  # how many segment references lead here

    def error(self, path: str, reason: str) -> None:
        self.errors.setdefault(path or "rule", []).append(reason)

    def node(self, node: Any, path: str, depth: int = 0) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.error(path, f"a rule may have at most {MAX_NODES} conditions")
            return
        if self.expansion.exceeded:
            return
        self.expansion.nodes += 1
        if self.expansion.nodes > MAX_EXPANDED_NODES:
            self.expansion.exceeded = True
            self.error(path, expansion_limit_reason())
            return
        if depth > MAX_DEPTH:
            self.error(path, f"rules nest at most {MAX_DEPTH} deep")
            return
        if not isinstance(node, dict) or not node:
            self.error(path, 'must be an object such as {"all": [...]} or a condition')
            return
        kind = next((key for key in node if key in NODE_KEYS or key in CONDITIONS), None)
        if kind is None:
            known = sorted([*NODE_KEYS, *CONDITIONS])
            self.error(path, f"has no known condition; use one of {', '.join(known)}")
            return
        allowed = NODE_KEYS[kind] if kind in NODE_KEYS else CONDITIONS[kind].keys
        here = f"{path}.{kind}" if path else kind
        for key in node:
            if key not in allowed:
                self.error(f"{here}.{key}", "unknown key")
        if kind in ("all", "any"):
            children = node[kind]
            if not isinstance(children, list):
                self.error(here, "must be a list of conditions")
                return
            for index, child in enumerate(children):
                self.node(child, f"{here}[{index}]" if path else f"{kind}[{index}]", depth + 1)
        elif kind == "not":
            self.node(node["not"], here, depth + 1)
        elif kind in CONDITIONS:
            CONDITIONS[kind].validate(node, here, self)
        else:
            getattr(self, f"_{kind}")(node, here)

    # -- leaves -----------------------------------------------------------------------

    def _field(self, node: dict[str, Any], here: str) -> None:
        spec = FIELDS.get(node["field"]) if isinstance(node["field"], str) else None
        if spec is None:
            self.error(here, f"unknown field; use one of {', '.join(sorted(FIELDS))}")
            return
        ops = OPS_BY_KIND[spec.kind]
        op = node.get("op")
        if op not in ops:
            self.error(
                f"{here}.op", f"'{op}' does not apply to {spec.name}; use one of {', '.join(ops)}"
            )
            return
        choices = spec.choices(self.workspace) if spec.choices else None
        self.value(node, here, op, spec.kind, choices)

    def _attr(self, node: dict[str, Any], here: str) -> None:
        name = node["attr"]
        if not isinstance(name, str) or not ATTRIBUTE_KEY.match(name):
            self.error(here, "must be an attribute name (letters, digits and _)")
        op = node.get("op")
        if op not in ATTRIBUTE_OPS:
            self.error(f"{here}.op", f"use one of {', '.join(ATTRIBUTE_OPS)}")
            return
        self.value(node, here, op, "attribute", None)

    def value(
        self, node: dict[str, Any], here: str, op: str, kind: str, choices: list[str] | None
    ) -> None:
        """Check `value` for an operator on a kind of value."""
        path = f"{here}.value"
        value = node.get("value")
        if op in ("is_true", "is_false"):
            if "value" in node:
                self.error(path, f"'{op}' takes no value")
            return
        if op == "exists":
            if "value" in node and not isinstance(value, bool):
                self.error(path, "must be true or false")
            return
        if "value" not in node:
            self.error(path, "is required")
            return
        if op in SINGLE_VALUE:
            problem = SINGLE_VALUE[op](value)
            if problem:
                self.error(path, problem)
            return
        if op == "in" and (not isinstance(value, list) or not value or len(value) > MAX_LIST):
            self.error(path, f"must be a list of 1 to {MAX_LIST} values")
            return
        values: list[Any] = value if isinstance(value, list) else [value]
        for item in values:
            problem = item_problem(item, op, kind, choices)
            if problem:
                self.error(path, problem)
                return

    def cmp(self, value: Any, path: str, *, whole: bool) -> None:
        example = '{"gte": 2}'
        if not isinstance(value, dict) or not value or not set(value) <= set(CMP_KEYS):
            self.error(path, f"must be an object like {example} with {', '.join(CMP_KEYS)}")
            return
        for key, number in value.items():
            if not is_number(number) or number < 0 or (whole and number != int(number)):
                kind = "a whole number" if whole else "a number"
                self.error(f"{path}.{key}", f"must be {kind}, 0 or more")

    def window(self, node: dict[str, Any], here: str) -> None:
        if "within_days" in node and "between" in node:
            self.error(here, "give within_days or between, not both")
        if "within_days" in node:
            days = node["within_days"]
            if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= MAX_DAYS:
                self.error(f"{here}.within_days", f"must be a whole number from 1 to {MAX_DAYS}")
        if "between" in node:
            bounds = node["between"]
            moments = [parse_moment(b) for b in bounds] if isinstance(bounds, list) else []
            if len(moments) != 2 or None in moments:
                self.error(f"{here}.between", "must be [from, to] as ISO dates or date-times")
            elif moments[0] >= moments[1]:  # type: ignore[operator]
                self.error(f"{here}.between", "from must be before to")

    def _event(self, node: dict[str, Any], here: str) -> None:
        name = node["event"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            self.error(here, "must be an event name")
        if "count" in node:
            self.cmp(node["count"], f"{here}.count", whole=True)
        self.window(node, here)
        for key in ("first", "last"):
            if key in node:
                recency = node[key]
                if (
                    not isinstance(recency, dict)
                    or len(recency) != 1
                    or next(iter(recency)) not in ("older_than_days", "within_days")
                ):
                    self.error(
                        f"{here}.{key}", 'must be {"older_than_days": N} or {"within_days": N}'
                    )
                    continue
                days = next(iter(recency.values()))
                if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= MAX_DAYS:
                    self.error(f"{here}.{key}", f"days must be from 1 to {MAX_DAYS}")
        if "where" in node:
            where = node["where"]
            if not isinstance(where, list) or not where or len(where) > 20:
                self.error(f"{here}.where", "must be a list of 1 to 20 property conditions")
                return
            for index, condition in enumerate(where):
                self._property(condition, f"{here}.where[{index}]")

    def _property(self, condition: Any, path: str) -> None:
        if not isinstance(condition, dict) or set(condition) - {"property", "op", "value"}:
            self.error(path, 'must be {"property": name, "op": ..., "value": ...}')
            return
        name = condition.get("property")
        if not isinstance(name, str) or not name or len(name) > 200:
            self.error(f"{path}.property", "must be a property name")
        op = condition.get("op")
        if op not in ATTRIBUTE_OPS:
            self.error(f"{path}.op", f"use one of {', '.join(ATTRIBUTE_OPS)}")
            return
        self.value(condition, path, op, "attribute", None)

    def _revenue(self, node: dict[str, Any], here: str) -> None:
        self.cmp(node["revenue"], here, whole=False)
        self.window(node, here)

    def _purchases(self, node: dict[str, Any], here: str) -> None:
        self.cmp(node["purchases"], here, whole=True)
        self.window(node, here)

    def _segment(self, node: dict[str, Any], here: str) -> None:
        segment_id = node["segment"]
        if not isinstance(segment_id, int) or isinstance(segment_id, bool):
            self.error(here, "must be a segment id")
            return
        if self.workspace is None:
            return
        if segment_id in self.segments:
            self.error(here, "segments may not include themselves, directly or not")
            return
        if self.references >= MAX_SEGMENT_DEPTH:
            self.error(
                here,
                f"segments may use other segments at most {MAX_SEGMENT_DEPTH} levels deep",
            )
            return
        rule = self.expansion.rule_of(self.workspace, segment_id)
        if rule is None:
            self.error(here, f"no segment {segment_id} in this workspace")
            return
        with self.inside_segment(segment_id):
            inner = Validator(self.workspace, self.expansion, self.references + 1)
            inner.segments = self.segments
            inner.node(rule, "")
            if inner.errors:
                path, reasons = next(iter(inner.errors.items()))
                self.error(here, f"segment {segment_id}: {path}: {reasons[0]}")

    @contextmanager
    def inside_segment(self, segment_id: int) -> Iterator[None]:
        self.segments.append(segment_id)
        try:
            yield
        finally:
            self.segments.pop()


def referenced_segments(rule: Any) -> set[int]:
    """Ids of the segments a rule names, at any depth."""
    found: set[int] = set()
    if isinstance(rule, dict):
        if isinstance(rule.get("segment"), int):
            found.add(rule["segment"])
        for value in rule.values():
            found |= referenced_segments(value)
    elif isinstance(rule, list):
        for item in rule:
            found |= referenced_segments(item)
    return found


def rule_errors(
    rule: Any,
    *,
    workspace: Workspace | None = None,
    segment_id: int | None = None,
    overrides: dict[int, Any] | None = None,
) -> dict[str, list[str]]:
    """{path: [reasons]} for everything wrong with `rule`; empty when it is valid.
    `segment_id` is the segment being saved, so that it cannot include itself;
    `overrides` gives segments' rules as they are about to be saved."""
    validator = Validator(workspace, Expansion(overrides))
    if segment_id is not None:
        validator.segments.append(segment_id)
    validator.node(rule, "")
    return validator.errors


def segment_change_errors(*, workspace: Workspace, segment_id: int, rule: Any) -> list[str]:
    """The saved rules (other segments, and RULE_HOLDERS': stages) that use this
    segment, directly or through others, and would go over the expansion bounds if it
    had `rule`. One read of the workspace's segments; each rule is checked with them."""
    segments = list(Segment.objects.filter(workspace=workspace).values_list("pk", "name", "rule"))
    rules = {pk: saved for pk, _, saved in segments}
    rules[segment_id] = rule
    holders = [(f"segment “{name}”", saved) for pk, name, saved in segments if pk != segment_id]
    for find in RULE_HOLDERS:
        holders += find(workspace)
    depth_reason = f"at most {MAX_SEGMENT_DEPTH} levels deep"
    problems = []
    for description, saved in holders:
        if not referenced_segments(saved):
            continue
        reasons = [
            reason
            for found in rule_errors(saved, workspace=workspace, overrides=rules).values()
            for reason in found
        ]
        if any(expansion_limit_reason() in r or depth_reason in r for r in reasons):
            problems.append(description)
    return problems


def validate_rule(
    rule: Any,
    *,
    workspace: Workspace | None = None,
    segment_id: int | None = None,
    field: str = "rule",
) -> None:
    """Raise InvalidInput naming the path of every bad node (fields "rule.all[2]...")."""
    errors = rule_errors(rule, workspace=workspace, segment_id=segment_id)
    if errors:
        fields = {
            f"{field}.{path}" if path != "rule" else field: reasons
            for path, reasons in errors.items()
        }
        first_path, reasons = next(iter(fields.items()))
        raise InvalidInput(f"{first_path}: {reasons[0]}", fields=fields)
