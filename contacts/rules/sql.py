"""A small boolean SQL expression for the rule compiler.

Django's lookups cover most conditions, but JSONB attributes need typed, NULL-free
SQL (a rule under `not` must see "no value" as false, never as SQL NULL). `Sql` is a
fragment with `{0}`, `{1}` slots for compiled Django expressions (columns, JSON key
transforms, so table aliases stay Django's) and `%s` slots for parameters."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import BooleanField, Expression

_SLOT = re.compile(r"\{(\d+)\}|%s")


class Sql(Expression):
    output_field = BooleanField()

    def __init__(self, template: str, *expressions: Any, params: tuple[Any, ...] = ()) -> None:
        super().__init__(output_field=BooleanField())
        self.template = template
        self.expressions = list(expressions)
        self.params = tuple(params)
        if template.count("%s") != len(self.params):
            raise ValueError("one parameter per %s")

    def get_source_expressions(self) -> list[Any]:
        return self.expressions

    def set_source_expressions(self, exprs: Any) -> None:
        self.expressions = list(exprs)

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        compiled = [compiler.compile(expression) for expression in self.expressions]
        sql: list[str] = []
        params: list[Any] = []
        position = 0
        next_param = 0
        for match in _SLOT.finditer(self.template):
            sql.append(self.template[position : match.start()])
            if match.group(1) is not None:
                part_sql, part_params = compiled[int(match.group(1))]
                sql.append(f"({part_sql})")
                params.extend(part_params)
            else:
                sql.append("%s")
                params.append(self.params[next_param])
                next_param += 1
            position = match.end()
        sql.append(self.template[position:])
        return "".join(sql), params

    def __repr__(self) -> str:
        return f"Sql({self.template!r}, {self.expressions!r}, {self.params!r})"


TRUE = Sql("true")
FALSE = Sql("false")
