"""Keyset ("cursor") pagination: stable under inserts and fast at any depth, unlike
OFFSET. The cursor is an opaque token holding the last row's sort key."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from config.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _encode(values: Sequence[Any]) -> str:
    raw = json.dumps([{"dt": v.isoformat()} if isinstance(v, dt.datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list):
            raise ValueError
        return [dt.datetime.fromisoformat(v["dt"]) if isinstance(v, dict) else v for v in values]
    except (ValueError, TypeError, KeyError):
        raise InvalidInput("The cursor is not valid.", fields={"cursor": ["not valid"]}) from None


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput("limit must be a number.", fields={"limit": ["not a number"]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit is out of range.", fields={"limit": [f"1 to {MAX_LIMIT}"]})
    return limit


def keyset_page(
    queryset: QuerySet[Any], *, keys: Sequence[str], cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page ordered by `keys` (e.g. ["-id"] or ["updated_at", "id"]; the last key
    must be unique). Returns the rows and the cursor of the next page, or None."""
    if cursor:
        values = _decode(cursor)
        if len(values) != len(keys):
            raise InvalidInput("The cursor is not valid.", fields={"cursor": ["not valid"]})
        queryset = queryset.filter(_after(keys, values))
    rows = list(queryset.order_by(*keys)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, _encode([_value(last, key.lstrip("-")) for key in keys])


def _value(row: Model | dict[str, Any], name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _after(keys: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after the given key values, in the ordering the keys describe."""
    condition = Q()
    for position, key in enumerate(keys):
        name = key.lstrip("-")
        op = "lt" if key.startswith("-") else "gt"
        step = Q(**{f"{name}__{op}": values[position]})
        for earlier, earlier_key in enumerate(keys[:position]):
            step &= Q(**{earlier_key.lstrip("-"): values[earlier]})
        condition |= step
    return condition


def paginated_response(request: Request, rows: Sequence[Any], next_cursor: str | None) -> Response:
    next_url = (
        replace_query_param(request.build_absolute_uri(), "cursor", next_cursor)
        if next_cursor
        else None
    )
    return Response({"results": rows, "next": next_url, "next_cursor": next_cursor})


def keyset_response(
    request: Request, queryset: QuerySet[Any], *, keys: Sequence[str], item: Callable[[Any], Any]
) -> Response:
    """A list endpoint's answer: the page of `queryset` (ordered by `keys`) that the
    request's cursor and limit ask for, each row turned into JSON by `item`."""
    rows, cursor = keyset_page(
        queryset,
        keys=keys,
        cursor=request.query_params.get("cursor"),
        limit=parse_limit(request.query_params.get("limit")),
    )
    return paginated_response(request, [item(row) for row in rows], cursor)


class KeysetPagination(BasePagination):
    """How the cursor-paginated list views answer, for the OpenAPI schema: a view sets
    `pagination_class = KeysetPagination` and documents its 200 as `Item(many=True)`;
    drf-spectacular then describes the page object and the cursor and limit
    parameters. The views page with keyset_page and answer with paginated_response."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next", "next_cursor"],
            "properties": {
                "results": schema,
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "the URL of the next page; null on the last page",
                },
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "the cursor of the next page; null on the last page",
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "next_cursor of the previous page (opaque; empty: the first)",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"rows per page, default {DEFAULT_LIMIT}",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
            },
        ]


class ResultsList(BasePagination):
    """Lists that are short by nature (stages, templates, segments, the newest 100
    imports): every item at once, as {"results": [...]} like the paginated lists."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["results"], "properties": {"results": schema}}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return []
