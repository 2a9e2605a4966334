"""Event summaries read by join: one summary row per contact and event name, however
many conditions a set of rules puts on that name.

The compiler's usual form of a summary condition is a sub-query of contact ids that
PostgreSQL hashes once and probes per contact (contacts.rules.compiler). Stage rules
put many conditions on one name: the default stages probe the `purchase` summaries
seven times per contact (three purchase counts, four last-purchase windows). A caller
that evaluates every contact of a big scope (the what-if) can instead ask the compiler
for column conditions on LEFT JOINed summary rows, one join per event name: each
condition is then a comparison on the contact's own joined row.

    compiled = compile_rule(rule, workspace=ws, summary_joins=(joins := SummaryJoins()))
    ... FROM contacts_contact {joins.from_sql()} WHERE ...

The join is on (contact, name), which is unique, so it never repeats a contact. Every
condition is NULL-free as the sub-query forms are: a contact without a row has count
0, no revenue, and no first or last moment (recency conditions are false)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import DecimalField, Expression, IntegerField, Q
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

from contacts.rules.context import Scope
from contacts.rules.sql import Sql

# The outer table's id column as Django's SQL names it (never aliased there), and
# where its FROM clause ends in a query on Contact (sub-queries alias their tables).
CONTACT_ID = '"contacts_contact"."id"'
_OUTER_FROM = ' FROM "contacts_contact" WHERE '
_PLACEHOLDER = re.compile(r"%%|%s")
_COLUMNS = '"contact_id", "count", "first_at", "last_at", "revenue", "revenue_count"'
_LOOKUPS: dict[str, Any] = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


def cmp_on(expression: Any, cmp: dict[str, Any]) -> Q:
    """The comparison on a non-null expression, with the lookups (and so the value
    preparation, e.g. decimal places) of `predicates.cmp_q` on a column."""
    condition = Q()
    for key, number in cmp.items():
        if key == "neq":
            condition &= ~Q(Exact(expression, number))
        else:
            condition &= Q(_LOOKUPS[key](expression, number))
    return condition


class Joined(Expression):
    """A value of a joined summary row: SQL made only of this module's aliases and
    column names (no user text: event names go in as parameters of the join)."""

    def __init__(self, sql: str, output_field: Any) -> None:
        super().__init__(output_field=output_field)
        self.sql = sql

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return f"({self.sql})", []

    def __repr__(self) -> str:
        return f"Joined({self.sql!r})"


@dataclass
class SummaryJoins:
    """The event names compiled conditions read by join (name -> table alias); the
    caller adds `from_sql()` after the contacts table of its statement. `scope`, the
    contacts the statement is limited to, limits the joined rows too (PostgreSQL does
    not carry a range of the contacts' ids over to the join's other side)."""

    workspace_id: int
    scope: Scope = field(default_factory=Scope.everyone)
    aliases: dict[str, str] = field(default_factory=dict)

    def alias(self, name: str) -> str:
        if name not in self.aliases:
            self.aliases[name] = f"sc_es{len(self.aliases)}"
        return self.aliases[name]

    def column(self, name: str, column: str, output_field: Any) -> Joined:
        return Joined(f'"{self.alias(name)}"."{column}"', output_field)

    def present(self, name: str) -> Q:
        """The contact has a summary row for the name."""
        return Q(Sql(f'"{self.alias(name)}"."contact_id" IS NOT NULL'))

    def count(self, name: str) -> Joined:
        """How many such events (0 without a row)."""
        return Joined(f'COALESCE("{self.alias(name)}"."count", 0)', IntegerField())

    def purchase_total(self, names: list[str], measure: str) -> Joined:
        """Revenue, or the number of events with revenue, over these names (the
        summary rows with revenue_count > 0, as the sub-query form reads; 0 if none)."""
        column = "revenue" if measure == "revenue" else "revenue_count"
        parts = []
        for name in names:
            alias = self.alias(name)
            value = f'CASE WHEN "{alias}"."revenue_count" > 0 THEN "{alias}"."{column}" END'
            parts.append(f"COALESCE({value}, 0)")
        output: Any = (
            DecimalField(max_digits=16, decimal_places=2)
            if measure == "revenue"
            else IntegerField()
        )
        return Joined(" + ".join(parts), output)

    def from_sql(self, contact_id: str = CONTACT_ID) -> tuple[str, list[Any]]:
        """The LEFT JOINs, and their parameters, to put after the contacts table.
        Each joins the name's rows in contact order, read so from the summaries'
        index (workspace, name, contact): merged with the contacts read in id order,
        with no hash table and no sort."""
        sql, params = [], []
        for name, alias in self.aliases.items():
            where = ['"workspace_id" = %s', '"name" = %s']
            params += [self.workspace_id, name]
            if self.scope.ids is not None:
                where.append('"contact_id" = ANY(%s::bigint[])')
                params.append(self.scope.ids_array)
            for bound, op in ((self.scope.low, ">="), (self.scope.high, "<=")):
                if bound is not None:
                    where.append(f'"contact_id" {op} %s')
                    params.append(bound)
            sql.append(
                f' LEFT JOIN (SELECT {_COLUMNS} FROM "contacts_eventsummary"'
                f' WHERE {" AND ".join(where)} ORDER BY "contact_id") "{alias}"'
                f' ON "{alias}"."contact_id" = {contact_id}'
            )
        return "".join(sql), params

    def attach(self, sql: str, params: list[Any] | tuple[Any, ...]) -> tuple[str, list[Any]]:
        """A query on Contact (Django's SQL and parameters) with the joins added
        after its contacts table."""
        if sql.count(_OUTER_FROM) != 1:
            raise ValueError("expected one query on contacts_contact with a WHERE clause")
        head, tail = sql.split(_OUTER_FROM)
        before = sum(1 for m in _PLACEHOLDER.finditer(head) if m.group() == "%s")
        joins, join_params = self.from_sql()
        return (
            f'{head} FROM "contacts_contact"{joins} WHERE {tail}',
            [*params[:before], *join_params, *params[before:]],
        )
