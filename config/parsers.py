"""The API's one JSON parser: strict JSON that PostgreSQL can store, bounded in depth.

Every JSON body of every endpoint goes through `parse_json` (DRF's parser below, and
the event ingest fast path calling it directly), so what is refused here never
reaches a serializer, a service or the database:

- NaN and Infinity (not JSON; jsonb refuses them);
- nesting deeper than MAX_JSON_DEPTH (the standard library parser recurses and would
  raise RecursionError near 1000 levels; code that walks the data recurses too);
- the NUL character (\\u0000) in any string or key: PostgreSQL's text and jsonb
  cannot hold it;
- unpaired UTF-16 surrogates (\\ud800 alone): not Unicode text; PostgreSQL refuses them.

A refusal is a 400 in the API's error shape naming the path of the bad value, e.g.
{"attributes.notes": ["contains a NUL character (\\u0000)"]}.
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from config.errors import InvalidInput

MAX_JSON_DEPTH = 32
# Escapes that can produce a NUL or a surrogate; unescaped, neither can appear in valid
# JSON text (a raw NUL is a control character, a raw surrogate is not UTF-8). Bodies
# without them skip the per-string checks, which keeps the ingest path cheap.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def string_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    if _SURROGATE.search(text):
        return "contains an unpaired UTF-16 surrogate (not valid Unicode)"
    return None


def _too_deep(value: dict[str, Any] | list[Any]) -> bool:
    """Whether containers nest deeper than MAX_JSON_DEPTH (only containers are visited)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _bad_string(value: Any, path: str) -> tuple[str, str] | None:
    """(path, reason) of the first string or key PostgreSQL cannot store, or None."""
    stack = [(value, path)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, str):
            problem = string_problem(node)
            if problem:
                return here or "non_field_errors", problem
        elif isinstance(node, dict):
            for key, child in node.items():
                problem = string_problem(key)
                if problem:
                    # The key itself cannot be echoed back: name the object holding it.
                    return here or "non_field_errors", f"has a key that {problem}"
                stack.append((child, _path(here, key)))
        elif isinstance(node, list):
            stack.extend((child, _path(here, i)) for i, child in enumerate(node))
    return None


def check_json(value: Any, *, check_strings: bool = True) -> None:
    """Raise InvalidInput if `value` nests deeper than MAX_JSON_DEPTH or (with
    check_strings) holds a string or key PostgreSQL cannot store. Iterative: the
    value may be as deep as the parser allowed."""
    if isinstance(value, dict | list) and _too_deep(value):
        raise InvalidInput(
            f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.",
            fields={"non_field_errors": [f"nests deeper than {MAX_JSON_DEPTH} levels"]},
        )
    if check_strings:
        bad = _bad_string(value, "")
        if bad:
            where, problem = bad
            raise InvalidInput(f"{where}: {problem}", fields={where: [problem]})


def parse_json(raw: bytes) -> Any:
    """Parse a request body (see the module docstring for what is refused)."""
    # Nesting past the interpreter's recursion limit ends in RecursionError (refused
    # below). The collector is paused meanwhile: a finalizer it ran at that depth would
    # fail with RecursionError of its own, outside this try.
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidInput(
            f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.",
            fields={"non_field_errors": [f"nests deeper than {MAX_JSON_DEPTH} levels"]},
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    finally:
        if collecting:
            gc.enable()
    check_json(data, check_strings=_SUSPECT_ESCAPE.search(raw) is not None)
    return data


class StrictJSONParser(BaseParser):
    """DRF's parser for application/json, through parse_json."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw:
            # DRF hands no stream for an empty body; an empty body is no JSON at all.
            raise ParseError("JSON parse error - the body is empty")
        return parse_json(raw)
