"""Query parameters declared once: the same declaration documents a parameter in the
OpenAPI schema and checks it on the request, so the two cannot disagree.

A view lists its parameters (`QueryParam`s), passes `openapi(PARAMS)` to
@extend_schema and calls `query_values(request.query_params, PARAMS)`, which refuses a
value that breaks its schema with a 400 naming the parameter. An empty value is a value
like any other: `?status=` is refused where status is an enum, accepted where any
string is. Each view keeps its own meaning of the values (a segment id must name a
segment of the workspace, an end after its start, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.utils import OpenApiParameter

from config.errors import InvalidInput

# Years the API takes in dates and date-times: far enough either way for any real
# data, and date arithmetic (a period's default start) cannot leave Python's range.
YEAR_PATTERN = "^(19[7-9][0-9]|2[0-9]{3})-"
# A date-time from 1970 on whose UTC offset PostgreSQL can store (at most 15:59 either
# way; Python takes up to 23:59, and the database then refused the value with a 500).
MOMENT_PATTERN = YEAR_PATTERN + ".*(Z|z|[+-](0[0-9]|1[0-5]):?[0-5][0-9])$"
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)
MAX_ID = 2**63 - 1


def utc_offset_problem(moment: dt.datetime) -> str | None:
    """Why PostgreSQL could not store this moment's UTC offset, or None."""
    offset = moment.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return "has a UTC offset beyond 15:59 either way"
    return None


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def openapi(self) -> OpenApiParameter:
        return OpenApiParameter(
            self.name,
            type=self.schema,
            location=OpenApiParameter.QUERY,
            description=self.description,
        )

    def parse(self, raw: str) -> Any:
        """The value, or InvalidInput saying why it does not fit the schema."""
        schema = self.schema
        kind = schema.get("type")
        fmt = schema.get("format")
        if kind == "integer":
            if not re.fullmatch(r"-?[0-9]+", raw):
                self._refuse("must be an integer")
            number = int(raw)
            if number < schema.get("minimum", -MAX_ID - 1) or number > schema.get(
                "maximum", MAX_ID
            ):
                low, high = schema.get("minimum", "…"), schema.get("maximum", "…")
                self._refuse(f"must be from {low} to {high}")
            return number
        if "enum" in schema and raw not in schema["enum"]:
            self._refuse(f"must be one of {', '.join(schema['enum'])}")
        if "maxLength" in schema and len(raw) > schema["maxLength"]:
            self._refuse(f"is longer than {schema['maxLength']} characters")
        if "minLength" in schema and len(raw) < schema["minLength"]:
            self._refuse("must not be empty")
        if "pattern" in schema and not re.search(schema["pattern"], raw):
            self._refuse(schema.get("x-pattern-reason", "is not in the documented form"))
        if fmt == "date":
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                self._refuse("must be a date, YYYY-MM-DD")
        if fmt == "date-time":
            try:
                moment = dt.datetime.fromisoformat(raw)
            except ValueError:
                self._refuse("must be an ISO 8601 date-time")
            problem = utc_offset_problem(moment)
            if problem:
                self._refuse(problem)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return raw

    def _refuse(self, reason: str) -> Any:
        raise InvalidInput(f"{self.name}: {reason}", fields={self.name: [reason]})


def openapi(params: Sequence[QueryParam]) -> list[OpenApiParameter]:
    return [param.openapi() for param in params]


def query_values(params: Mapping[str, Any], declared: Sequence[QueryParam]) -> dict[str, Any]:
    """The declared parameters present in the query, each checked and parsed."""
    values: dict[str, Any] = {}
    for param in declared:
        if param.name in params:
            values[param.name] = param.parse(str(params.get(param.name)))
    return values


# Shapes several views share.
def date_param(name: str, description: str) -> QueryParam:
    schema = {
        "type": "string",
        "format": "date",
        "pattern": YEAR_PATTERN,
        "x-pattern-reason": "must be a date from 1970 on, YYYY-MM-DD",
    }
    return QueryParam(name, schema, description)


def datetime_param(name: str, description: str) -> QueryParam:
    schema = {
        "type": "string",
        "format": "date-time",
        "pattern": MOMENT_PATTERN,
        "x-pattern-reason": "must be a date-time from 1970 on with a UTC offset",
    }
    return QueryParam(name, schema, description)


def enum_param(name: str, values: Sequence[str], description: str = "") -> QueryParam:
    return QueryParam(name, {"type": "string", "enum": list(values)}, description)


def id_param(name: str, description: str) -> QueryParam:
    return QueryParam(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description)


def text_param(name: str, description: str = "", max_length: int = 200) -> QueryParam:
    return QueryParam(name, {"type": "string", "maxLength": max_length}, description)
