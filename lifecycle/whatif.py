"""What-if before saving a stage rule: the proposed stage list, checked as the stage
editor and the API check a save, and where the workspace's contacts would be under it
now, next to where they are.

A proposal is one stage's new rule (`{"stage": key, "rule": {...}}`; a key the
workspace does not have yet is a new stage, placed before the default as
`stage_create` places it) or the whole ordered list (`{"stages": [{"key", "rule"},
...]}`; stages left out are removed, new keys are new stages, the default stage stays
the default and last). Nothing is written: the preview is one read-only statement."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Max, Min, Value, When
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import Contact
from contacts.rules import Scope, compile_rule
from contacts.rules.joins import SummaryJoins
from lifecycle.models import Stage, WhatIfRun
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.evaluation import stage_case
from lifecycle.services.stages import KEY, stage_rule_check
from workspaces.models import Workspace

SAMPLE = 20
MAX_STAGES = 100


@dataclass(frozen=True)
class ProposedStage:
    """A stage as the proposal has it. `pk` is the stage's id, or a negative number
    standing for a stage the proposal adds."""

    pk: int
    key: str
    name: str
    rule: Any
    is_default: bool

    def as_stage(self, workspace: Workspace) -> Stage:
        # An unsaved Stage carrying the proposed rule, for the engine's own CASE.
        return Stage(
            pk=self.pk,
            workspace=workspace,
            key=self.key,
            name=self.name,
            rule=self.rule,
            is_default=self.is_default,
            position=0,
        )


@dataclass(frozen=True)
class Proposal:
    """The stages in evaluation order, the default last; `kept` are the ids of the
    current stages still in it (contacts pinned in a removed stage move anyway, as
    they do when a stage is removed)."""

    stages: tuple[ProposedStage, ...]

    @property
    def kept(self) -> list[int]:
        return [stage.pk for stage in self.stages if stage.pk > 0]

    def names(self) -> dict[int, tuple[str, str]]:
        return {stage.pk: (stage.key, stage.name) for stage in self.stages}

    def to_json(self) -> dict[str, Any]:
        """The proposal as the API takes it (the full list), for a background job."""
        return {
            "stages": [
                {"key": s.key, "name": s.name, "rule": s.rule}
                for s in self.stages
                if not s.is_default
            ]
        }


def _refuse(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field}: {reason}", fields={field: [reason]})


def _name(value: Any, key: str, field: str) -> str:
    if value is None:
        return key
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
        raise _refuse(field, "a name of 1 to 100 characters")
    return value.strip()


def _one_stage(workspace: Workspace, body: dict[str, Any], current: list[Stage]) -> Proposal:
    key = body.get("stage")
    if not isinstance(key, str) or not KEY.match(key):
        raise _refuse("stage", "a stage key: lowercase letters, digits, - and _")
    existing = next((s for s in current if s.key == key), None)
    rule = stage_rule_check(workspace=workspace, stage=existing, rule=body.get("rule"))
    stages = [
        ProposedStage(s.pk, s.key, s.name, rule if s is existing else s.rule, s.is_default)
        for s in current
    ]
    if existing is None:
        new = ProposedStage(-1, key, _name(body.get("name"), key, "name"), rule, False)
        stages.insert(len(stages) - 1, new)  # before the default, as stage_create does
    elif "name" in body:
        raise _refuse("name", "only a new stage takes a name here")
    return Proposal(tuple(stages))


def _stage_list(workspace: Workspace, items: Any, current: list[Stage]) -> Proposal:
    if not isinstance(items, list) or len(items) > MAX_STAGES:
        raise _refuse("stages", f"a list of at most {MAX_STAGES} stages, first evaluated first")
    by_key = {s.key: s for s in current}
    default = next(s for s in current if s.is_default)
    stages: list[ProposedStage] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        here = f"stages[{index}]"
        if not isinstance(item, dict):
            raise _refuse(here, 'an object like {"key": "customer", "rule": {...}}')
        unknown = sorted(set(item) - {"key", "name", "rule"})
        if unknown:
            raise _refuse(f"{here}.{unknown[0]}", "unknown field")
        key = item.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise _refuse(f"{here}.key", "lowercase letters, digits, - and _")
        if key in seen:
            raise _refuse(f"{here}.key", "listed twice")
        seen.add(key)
        existing = by_key.get(key)
        rule = stage_rule_check(
            workspace=workspace, stage=existing, rule=item.get("rule"), field=f"{here}.rule"
        )
        if existing is not None and existing.is_default:
            continue  # the default stays the default, evaluated last
        name = (
            _name(item.get("name"), key, f"{here}.name")
            if existing is None or "name" in item
            else existing.name
        )
        stages.append(
            ProposedStage(existing.pk if existing else -1 - index, key, name, rule, False)
        )
    stages.append(ProposedStage(default.pk, default.key, default.name, None, True))
    return Proposal(tuple(stages))


def proposal_parse(*, workspace: Workspace, body: dict[str, Any]) -> Proposal:
    """The proposed stage list from a request body, checked as a save would be:
    InvalidInput (400) naming the field, e.g. `stages[1].rule.all[0].op`."""
    unknown = sorted(set(body) - {"stage", "rule", "name", "stages"})
    if unknown:
        raise _refuse(unknown[0], "unknown field")
    current = list(stages_for_workspace(workspace=workspace))
    if not any(stage.is_default for stage in current):
        raise _refuse("stages", "the workspace has no default stage")
    if "stages" in body:
        extra = sorted({"stage", "rule", "name"} & set(body))
        if extra:
            raise _refuse(extra[0], "give either stage and rule, or stages")
        return _stage_list(workspace, body["stages"], current)
    if "stage" not in body:
        raise _refuse("stage", "is required (or give the whole list as stages)")
    if "rule" not in body:
        raise _refuse("rule", "is required")
    return _one_stage(workspace, body, current)


def proposed_case(
    *, proposal: Proposal, workspace: Workspace, now: dt.datetime, as_of: bool = False
) -> Case:
    """The proposed stage of each contact: the engine's CASE over the proposed rules
    (first match wins, else the default). `as_of` evaluates at a past `now` from the
    events that had happened by then (contacts.rules.Context)."""
    stages = [stage.as_stage(workspace) for stage in proposal.stages]
    if not as_of:
        return stage_case(stages=stages, workspace=workspace, now=now, scope=Scope.everyone())
    default = next(stage for stage in stages if stage.is_default)
    whens = [
        When(
            compile_rule(stage.rule, workspace=workspace, now=now, as_of=True),
            then=Value(stage.pk),
        )
        for stage in stages
        if not stage.is_default and stage.rule
    ]
    return Case(*whens, default=Value(default.pk), output_field=IntegerField())


# The proposed stage next to the current one (contacts and their stage rows merged in
# id order). `held`: pinned where it is (and its stage
# stays), so rules would not move it. The sample spreads over the moves: the newest
# contacts of each from→to cell in turn.
_NOW_SQL = """
WITH diff AS MATERIALIZED (
    SELECT c.id, c.new_stage, cur.stage_id AS old_stage,
           COALESCE(cur.pinned AND (cur.pinned_until IS NULL OR cur.pinned_until > %s)
                    AND cur.stage_id = ANY(%s::bigint[]), false) AS held
    FROM ({computed}) c
    LEFT JOIN lifecycle_contactstage cur ON cur.contact_id = c.id{cur_range}
),
cells AS (SELECT old_stage, new_stage, held, count(*) AS n FROM diff GROUP BY 1, 2, 3),
sample AS (
    SELECT id, old_stage, new_stage, rank FROM (
        SELECT id, old_stage, new_stage,
               row_number() OVER (PARTITION BY old_stage, new_stage ORDER BY id DESC) AS rank
        FROM diff WHERE old_stage IS DISTINCT FROM new_stage AND NOT held
    ) ranked WHERE rank <= %s
)
SELECT 'cell', old_stage, new_stage, held, n FROM cells
UNION ALL
SELECT 'sample', old_stage, new_stage, false, id FROM sample
"""

# A workspace of more contacts than this (by id span) is evaluated in as many id
# ranges as LIFECYCLE_WHATIF_THREADS, each on its own connection at once: the answer is
# the same, the wait shorter on a database with cores to spare.
PARALLEL_FROM_IDS = 100_000


def _ranges(workspace: Workspace) -> list[Scope]:
    threads = max(1, settings.LIFECYCLE_WHATIF_THREADS)
    span = Contact.objects.filter(workspace=workspace).aggregate(low=Min("pk"), high=Max("pk"))
    low, high = span["low"], span["high"]
    if low is None or threads == 1 or high - low < PARALLEL_FROM_IDS:
        return [Scope.everyone()]
    step = (high - low) // threads + 1
    return [Scope.between(low + i * step, low + (i + 1) * step - 1) for i in range(threads)]


def _cells_in(
    workspace: Workspace, proposal: Proposal, now: dt.datetime, scope: Scope
) -> list[tuple[Any, ...]]:
    # The engine's CASE (first match wins, else the default), each event summary read
    # by one join per event name rather than a hashed sub-query per condition.
    joins = SummaryJoins(workspace_id=workspace.pk, scope=scope)
    default = next(stage for stage in proposal.stages if stage.is_default)
    whens = [
        When(
            compile_rule(
                stage.rule, workspace=workspace, now=now, scope=scope, summary_joins=joins
            ),
            then=Value(stage.pk),
        )
        for stage in proposal.stages
        if not stage.is_default and stage.rule
    ]
    computed = (
        Contact.objects.filter(scope.limit("pk"), workspace=workspace)
        .annotate(new_stage=Case(*whens, default=Value(default.pk), output_field=IntegerField()))
        .values("id", "new_stage")
    )
    computed_sql, params = joins.attach(*computed.query.sql_with_params())
    # The stage rows of the range only: both sides are read in id order and merged.
    ranged = scope.low is not None and scope.high is not None
    sql = _NOW_SQL.replace("{computed}", computed_sql).replace(
        "{cur_range}", " AND cur.contact_id BETWEEN %s AND %s" if ranged else ""
    )
    bounds = [scope.low, scope.high] if ranged else []
    with transaction.atomic(), connection.cursor() as cursor:
        # As the engine's own statements: no JIT, memory for the rules' hash tables.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, [now, proposal.kept, *params, *bounds, SAMPLE])
        return list(cursor.fetchall())


def _cells(
    workspace: Workspace, proposal: Proposal, now: dt.datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    ranges = _ranges(workspace)
    if len(ranges) == 1:
        rows = _cells_in(workspace, proposal, now, ranges[0])
    else:

        def part(scope: Scope) -> list[tuple[Any, ...]]:
            try:
                return _cells_in(workspace, proposal, now, scope)
            finally:
                connection.close()  # this thread's own connection

        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            rows = [row for rows_of in pool.map(part, ranges) for row in rows_of]
    cells: dict[tuple[Any, ...], int] = {}
    for _, old, new, held, n in (r for r in rows if r[0] == "cell"):
        cells[(old, new, held)] = cells.get((old, new, held), 0) + n
    # The newest movers of each from→to cell, then the next newest of each, ...
    by_cell: dict[tuple[Any, ...], list[int]] = {}
    for _, old, new, _, contact_id in (r for r in rows if r[0] == "sample"):
        by_cell.setdefault((old, new), []).append(contact_id)
    ranked = [
        (rank, -contact_id, cell)
        for cell, ids in by_cell.items()
        for rank, contact_id in enumerate(sorted(ids, reverse=True)[:SAMPLE])
    ]
    sample = [(*cell, False, -negative) for _, negative, cell in sorted(ranked)[:SAMPLE]]
    return [(*key, n) for key, n in cells.items()], sample


def whatif_now(
    *, workspace: Workspace, proposal: Proposal, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Where the workspace's contacts would be under the proposal now, next to where
    they are: the from→to moves (non-zero cells, most first), how many stay, how many
    pins hold where the rules would move them, and a sample of the moving contacts."""
    now = now or timezone.now()
    cells, sampled = _cells(workspace, proposal, now)
    names = proposal.names()
    # Stages the proposal removes still name where contacts are now.
    for stage in Stage.objects.filter(workspace=workspace).exclude(pk__in=list(names)):
        names[stage.pk] = (stage.key, stage.name)

    def ends(old: int | None, new: int) -> dict[str, Any]:
        old_key, old_name = names.get(old, (None, None)) if old is not None else (None, None)
        return {
            "from": old_key,
            "from_name": old_name,
            "to": names[new][0],
            "to_name": names[new][1],
        }

    moves = [
        {**ends(old, new), "contacts": n} for old, new, held, n in cells if old != new and not held
    ]
    moves.sort(key=lambda move: (-move["contacts"], move["from"] or "", move["to"]))
    held = [
        {**ends(old, new), "contacts": n}
        for old, new, is_held, n in cells
        if is_held and old != new
    ]
    held.sort(key=lambda move: -move["contacts"])
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(workspace=workspace, pk__in=[r[3] for r in sampled]).only(
            "pk", "email", "phone", "external_id", "first_name", "last_name"
        )
    }
    sample = [
        {
            "id": contact_id,
            "email": contacts[contact_id].email,
            "name": contacts[contact_id].full_name,
            **ends(old, new),
        }
        for old, new, _, contact_id in sampled
        if contact_id in contacts
    ]
    return {
        "computed_at": now.isoformat(),
        "contacts": sum(row[3] for row in cells),
        "moving": sum(move["contacts"] for move in moves),
        "staying": sum(n for old, new, _, n in cells if old == new),
        "held_by_pins": sum(move["contacts"] for move in held),
        "moves": moves,
        "held": held,
        "sample": sample,
    }


def proposal_current(*, workspace: Workspace) -> Proposal:
    """The stage list as it is, as a proposal (the funnel's other side)."""
    return Proposal(
        tuple(
            ProposedStage(s.pk, s.key, s.name, s.rule, s.is_default)
            for s in stages_for_workspace(workspace=workspace)
        )
    )


def funnel_as_of(
    *, workspace: Workspace, proposal: Proposal, moment: dt.datetime
) -> dict[int, int]:
    """Contacts per stage id as they would have been at the past `moment` under the
    proposal: contacts signed up by then, each rule read from the events that had
    happened by then (pins and manual moves are not part of it)."""
    rows = (
        Contact.objects.filter(workspace=workspace, signed_up_at__lte=moment)
        .annotate(
            proposed=proposed_case(proposal=proposal, workspace=workspace, now=moment, as_of=True)
        )
        .values("proposed")
        .annotate(n=Count("id"))
        .values_list("proposed", "n")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        return {int(stage_id): int(n) for stage_id, n in rows}


def whatif_run_get(*, workspace: Workspace, run_id: int) -> WhatIfRun | None:
    return WhatIfRun.objects.filter(workspace=workspace, pk=run_id).first()
