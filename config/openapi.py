"""What every operation of the OpenAPI schema shares: the error shape and the status
codes that any request can meet, added in one place (drf-spectacular's
POSTPROCESSING_HOOKS) rather than repeated on each view.

Each operation documents, in the shape of config/api.py (`Error`):
- 401 (no or an unknown key), 414 (URL over 8000 bytes, config/middleware.py) and
  429 (rate limit, with Retry-After): any request can meet them;
- 400 when it takes parameters or a body; 404 when its path names an object;
- 413 and 415 when it takes a body (size limit; the one media type it accepts).
Views still document their own cases (409 conflicts, 404 of a missing model, ...);
an error response a view lists without content gets the error shape here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

# The responses most operations list beside their own (the hook below gives them the
# error shape); views add 409 and the like where they can happen.
ERRORS = {
    400: OpenApiResponse(description="Invalid input: error.fields names each bad field"),
    401: OpenApiResponse(description="Missing or unknown API key"),
    404: OpenApiResponse(description="Not found in this workspace"),
    429: OpenApiResponse(description="Rate limited; see Retry-After"),
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "invalid, parse_error, bad_request, unauthenticated, "
                    "forbidden, not_found, method_not_allowed, conflict, too_large, "
                    "uri_too_long, unsupported_media_type, rate_limited, server_error",
                },
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": 'the path of each bad value and why, e.g. {"contacts[3].email": '
                    '["not a valid email address"]}',
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

DESCRIPTIONS = {
    "400": "Invalid input: error.fields names each bad value and why",
    "401": "Missing, malformed or unknown API key",
    "403": "Not allowed",
    "404": "Not found in this workspace",
    "405": "Method not allowed",
    "409": "Conflicts with existing data",
    "413": "The body is larger than the documented limit",
    "414": "The URL is longer than 8000 bytes",
    "415": "The body is not in the media type this operation accepts",
    "429": "Rate limited; retry after Retry-After seconds",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "seconds until the rate limit's window ends",
    }
}


# Rules a component's fields cannot state one by one (e.g. "one of these is required"),
# registered by the app that defines the component: {component name: schema to merge}.
component_rules: dict[str, dict[str, Any]] = {}


def _close_requests(components: dict[str, Any]) -> None:
    """Request bodies refuse unknown fields (the services say "unknown field"): say so."""
    for name, schema in components.items():
        if not name.endswith("Request") or schema.get("type") != "object":
            continue
        if "properties" in schema:
            schema.setdefault("additionalProperties", False)
        schema.update(component_rules.get(name, {}))


def _body_schema(components: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    first: dict[str, Any] = next(iter(content.values()), {})
    schema: dict[str, Any] = first.get("schema", {})
    ref = schema.get("$ref", "")
    return components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema


def _codes_for(path: str, operation: dict[str, Any]) -> set[str]:
    codes = {"401", "414", "429"}
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add("400")
    if "{" in path:
        codes.add("404")
    if operation.get("requestBody"):
        codes |= {"413", "415"}
    return codes


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    _close_requests(components)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = _body_schema(components, operation)
            if body.get("required") or "oneOf" in body or "anyOf" in body:
                # A body with required fields cannot be left out.
                operation["requestBody"]["required"] = True
            responses = operation.setdefault("responses", {})
            listed = {code for code in responses if code.startswith("4")}
            for code in sorted(listed | _codes_for(path, operation)):
                response = responses.setdefault(code, {"description": DESCRIPTIONS[code]})
                response["content"] = error_content
                if code == "429":
                    response["headers"] = RETRY_AFTER
    return result


def described(schema: dict[str, Any], **kwargs: Any) -> serializers.Field:
    """A serializer field documented by a JSON schema of its own, for the values whose
    rules a DRF field cannot state (a pattern with alternatives, one of two types).
    The API's validation lives in the services; this is what the schema says of it."""

    @extend_schema_field(schema)
    class Described(serializers.JSONField):
        pass

    return Described(**kwargs)


# Not only whitespace, in the sense of Python's str.strip(), which the services use: an
# explicit class, since JSON Schema's \s (ECMA-262) and Python's differ at the edges.
NON_BLANK = (
    "[^\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]"
)


def text(max_length: int, *, blank: bool = True, nullable: bool = False) -> dict[str, Any]:
    """A string of at most max_length characters (after trimming); blank: may be empty."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if not blank:
        schema["pattern"] = NON_BLANK
    if nullable:
        schema["nullable"] = True
    return schema


def or_empty(schema: dict[str, Any], *, nullable: bool = True) -> dict[str, Any]:
    """`schema`, or an empty string (which the API reads as no value), or null."""
    pattern = schema.get("pattern", "")
    if "format" not in schema and pattern.startswith("^") and pattern.endswith("$"):
        # One pattern that also matches "": simpler for readers and generators alike.
        out: dict[str, Any] = {**schema, "pattern": f"^({pattern[1:-1]})?$"}
        if nullable:
            out["nullable"] = True
        return out
    out = {"oneOf": [schema, {"type": "string", "enum": [""]}]}
    if nullable:
        out["nullable"] = True
    return out
