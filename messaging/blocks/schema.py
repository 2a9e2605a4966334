"""The block document's schema, checked on the server; every problem is reported with
the path of the node that caused it (`sections[0].columns[1].blocks[2].url`).

    {"sections": [{"background": "#ffffff",
                   "columns": [{"blocks": [{"type": "heading", ...}, ...]}]}]}

Block kinds (one checker per kind in BLOCK_KINDS):
- heading: text, level 1-3, align
- text: text in a small markup: paragraphs split by a blank line, **bold**,
  *italic*, [label](https://link) — never HTML

Heading and text may hold personal fields inline: `{{first_name|there}}` (a field of
PERSONALISATION_FIELDS, then optionally `|` and the fallback for a contact without
one); the editor's picker inserts them at the cursor.
- image: src (an http(s) url: the editor sets it to an uploaded media file), alt,
  href (optional), width (optional, px)
- button: label, url, background, color
- divider: color
- spacer: height (px)
- social: links [{network, url}] from a fixed set of networks
- personalisation: before, field (picked from PERSONALISATION_FIELDS), fallback, after
- kinds other apps register (messaging/blocks/kinds.py): survey (surveys: survey_id)

Product and recommendation blocks wait for the product catalogue (issue 18)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from messaging.blocks.kinds import EXTRA_BLOCK_KINDS
from workspaces.models import Workspace

MAX_SECTIONS = 40
MAX_BLOCKS = 60
MAX_TEXT = 10_000
MAX_LABEL = 200
MAX_URL = 2_000

# What the renderer's context offers (messaging/personalisation.py `contact_context`),
# label for the picker by placeholder name.
PERSONALISATION_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "email": "Email",
    "phone": "Phone",
    "stage": "Lifecycle stage",
    "workspace.name": "Workspace name",
}
SOCIAL_NETWORKS = ("facebook", "instagram", "x", "linkedin", "youtube", "pinterest", "github")
ALIGNS = ("left", "center", "right")

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# A fallback goes into the placeholder as a template string literal, which the
# template engine outputs unescaped: only characters that need no escaping anywhere.
_FALLBACK = re.compile(r"[\w .,!?'-]*")
_URL = re.compile(r"(https?://|mailto:)[^\s<>\"'{}\\]+", re.IGNORECASE)
# [label](url) in the text markup
MARKUP_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]*)\)")
# {{field}} or {{field|fallback}} inline in a heading or a text
PERSONAL_TAG = re.compile(r"\{\{\s*([\w.]+)\s*(?:\|([^{}|\n]*))?\}\}")

Errors = dict[str, list[str]]


def _add(errors: Errors, path: str, reason: str) -> None:
    errors.setdefault(path, []).append(reason)


def _text(
    errors: Errors, node: dict[str, Any], path: str, key: str, *, limit: int, required: bool
) -> None:
    value = node.get(key, "")
    if not isinstance(value, str):
        _add(errors, f"{path}.{key}", "must be text")
    elif len(value) > limit:
        _add(errors, f"{path}.{key}", f"at most {limit} characters")
    elif required and not value.strip():
        _add(errors, f"{path}.{key}", "must not be blank")


def _url(errors: Errors, node: dict[str, Any], path: str, key: str, *, required: bool) -> None:
    value = node.get(key, "")
    if not isinstance(value, str):
        _add(errors, f"{path}.{key}", "must be text")
    elif not value.strip():
        if required:
            _add(errors, f"{path}.{key}", "must not be blank")
    elif len(value) > MAX_URL or not _URL.fullmatch(value.strip()):
        _add(errors, f"{path}.{key}", "must be a link starting with https:// (or mailto:)")


def _colour(errors: Errors, node: dict[str, Any], path: str, key: str) -> None:
    value = node.get(key)
    if value is not None and not (isinstance(value, str) and _COLOUR.fullmatch(value)):
        _add(errors, f"{path}.{key}", "must be a colour like #1a2b3c")


def _choice(errors: Errors, node: dict[str, Any], path: str, key: str, options: Any) -> None:
    value = node.get(key)
    if value is not None and value not in options:
        _add(errors, f"{path}.{key}", f"one of {', '.join(str(o) for o in options)}")


def _integer(
    errors: Errors, node: dict[str, Any], path: str, key: str, low: int, high: int
) -> None:
    value = node.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _add(errors, f"{path}.{key}", f"a whole number from {low} to {high}")


def _fallback_ok(fallback: Any) -> bool:
    return (
        isinstance(fallback, str) and len(fallback) <= 100 and bool(_FALLBACK.fullmatch(fallback))
    )


def _personal_tags(errors: Errors, block: dict[str, Any], path: str) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        return
    for match in PERSONAL_TAG.finditer(text):
        if match.group(1) not in PERSONALISATION_FIELDS:
            _add(
                errors,
                f"{path}.text",
                f"“{match.group(0)}” is not a personal field: "
                f"one of {', '.join(PERSONALISATION_FIELDS)}",
            )
        elif not _fallback_ok((match.group(2) or "").strip()):
            _add(
                errors,
                f"{path}.text",
                f"the fallback of “{match.group(0)}”: "
                "up to 100 letters, digits, spaces and . , ! ? ' -",
            )


def _heading(errors: Errors, block: dict[str, Any], path: str) -> None:
    _text(errors, block, path, "text", limit=MAX_LABEL * 2, required=True)
    _personal_tags(errors, block, path)
    _choice(errors, block, path, "level", (1, 2, 3))
    _choice(errors, block, path, "align", ALIGNS)


def _text_block(errors: Errors, block: dict[str, Any], path: str) -> None:
    _text(errors, block, path, "text", limit=MAX_TEXT, required=True)
    _choice(errors, block, path, "align", ALIGNS)
    _personal_tags(errors, block, path)
    text = block.get("text")
    if isinstance(text, str):
        for match in MARKUP_LINK.finditer(text):
            if not _URL.fullmatch(match.group(2)):
                _add(
                    errors,
                    f"{path}.text",
                    f"the link of “{match.group(1)}” must start with https://",
                )


def _image(errors: Errors, block: dict[str, Any], path: str) -> None:
    _url(errors, block, path, "src", required=True)
    _text(errors, block, path, "alt", limit=MAX_LABEL, required=False)
    _url(errors, block, path, "href", required=False)
    _integer(errors, block, path, "width", 20, 600)


def _button(errors: Errors, block: dict[str, Any], path: str) -> None:
    _text(errors, block, path, "label", limit=MAX_LABEL, required=True)
    _url(errors, block, path, "url", required=True)
    _colour(errors, block, path, "background")
    _colour(errors, block, path, "color")
    _choice(errors, block, path, "align", ALIGNS)


def _divider(errors: Errors, block: dict[str, Any], path: str) -> None:
    _colour(errors, block, path, "color")


def _spacer(errors: Errors, block: dict[str, Any], path: str) -> None:
    _integer(errors, block, path, "height", 4, 200)


def _social(errors: Errors, block: dict[str, Any], path: str) -> None:
    links = block.get("links")
    if not isinstance(links, list) or not links:
        _add(errors, f"{path}.links", "at least one network")
        return
    for index, link in enumerate(links[: len(SOCIAL_NETWORKS)]):
        where = f"{path}.links[{index}]"
        if not isinstance(link, dict):
            _add(errors, where, "must be an object")
            continue
        if link.get("network") not in SOCIAL_NETWORKS:
            _add(errors, f"{where}.network", f"one of {', '.join(SOCIAL_NETWORKS)}")
        _url(errors, link, where, "url", required=True)
    if len(links) > len(SOCIAL_NETWORKS):
        _add(errors, f"{path}.links", f"at most {len(SOCIAL_NETWORKS)} networks")


def _personalisation(errors: Errors, block: dict[str, Any], path: str) -> None:
    if block.get("field") not in PERSONALISATION_FIELDS:
        _add(errors, f"{path}.field", f"one of {', '.join(PERSONALISATION_FIELDS)}")
    if not _fallback_ok(block.get("fallback", "")):
        _add(errors, f"{path}.fallback", "up to 100 letters, digits, spaces and . , ! ? ' -")
    _text(errors, block, path, "before", limit=MAX_LABEL, required=False)
    _text(errors, block, path, "after", limit=MAX_LABEL, required=False)
    _choice(errors, block, path, "align", ALIGNS)


BLOCK_KINDS: dict[str, Callable[[Errors, dict[str, Any], str], None]] = {
    "heading": _heading,
    "text": _text_block,
    "image": _image,
    "button": _button,
    "divider": _divider,
    "spacer": _spacer,
    "social": _social,
    "personalisation": _personalisation,
}


def _items(errors: Errors, node: Any, path: str, key: str, low: int, high: int) -> list[Any]:
    value = node.get(key) if isinstance(node, dict) else None
    where = f"{path}.{key}" if path else key
    if not isinstance(value, list):
        _add(errors, where, "must be a list")
        return []
    if not low <= len(value) <= high:
        _add(errors, where, f"from {low} to {high} items")
    return value[:high]


def document_errors(document: Any, workspace: Workspace | None = None) -> Errors:
    """Every problem with a document, by path (empty when it may be rendered). A
    registered kind that names the workspace's rows (a survey) is checked against
    `workspace` (without one, such a block is refused)."""
    errors: Errors = {}
    if not isinstance(document, dict):
        return {"document": ["must be an object with sections"]}
    for s, section in enumerate(_items(errors, document, "", "sections", 1, MAX_SECTIONS)):
        spath = f"sections[{s}]"
        if not isinstance(section, dict):
            _add(errors, spath, "must be an object")
            continue
        _colour(errors, section, spath, "background")
        for c, column in enumerate(_items(errors, section, spath, "columns", 1, 3)):
            cpath = f"{spath}.columns[{c}]"
            if not isinstance(column, dict):
                _add(errors, cpath, "must be an object")
                continue
            for b, block in enumerate(_items(errors, column, cpath, "blocks", 0, MAX_BLOCKS)):
                bpath = f"{cpath}.blocks[{b}]"
                kind = block.get("type") if isinstance(block, dict) else None
                if not isinstance(block, dict) or kind not in (*BLOCK_KINDS, *EXTRA_BLOCK_KINDS):
                    kinds = ", ".join((*BLOCK_KINDS, *EXTRA_BLOCK_KINDS))
                    _add(errors, f"{bpath}.type", f"one of {kinds}")
                    continue
                if kind in BLOCK_KINDS:
                    BLOCK_KINDS[kind](errors, block, bpath)
                else:
                    EXTRA_BLOCK_KINDS[kind].check(errors, block, bpath, workspace)
    return {f"document.{path}": reasons for path, reasons in errors.items()}
