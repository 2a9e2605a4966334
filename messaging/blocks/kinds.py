"""Block kinds that apps to the right of messaging add to the email block editor
(surveys: the "Survey" block, a survey's one-tap scale), registered in their
AppConfig.ready() so messaging never imports them (docs/architecture.md, Hooks).

A kind says how to check a block (with the workspace, to refuse another workspace's
ids), how to render it to MJML and to the plain-text part, and what the editor offers
for it: a label and one picker (its field, label and choices for a workspace, or a
search address when the choices are too many to list), and what the SMS editor may
insert from it (a tracked link: catalog's product and first recommendation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workspaces.models import Workspace

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class BlockKind:
    label: str
    # (errors, block, path, workspace or None) -> adds errors by path
    check: Callable[[Errors, dict[str, Any], str, Workspace | None], None]
    # The block's MJML; its output is a message template (escape what was typed).
    mjml: Callable[[dict[str, Any]], str]
    text: Callable[[dict[str, Any]], str]
    field: str
    field_label: str
    # [(value, label)] the picker offers in this workspace
    choices: Callable[[Workspace], list[tuple[Any, str]]]
    empty: str = ""  # what the editor says when there is nothing to pick
    # A picker too long to list: the address of a search answering JSON
    # ({"results": [{"id", "label"}]} for ?q=words, or ?ids=1,2 for chosen ones).
    search_url: Callable[[Workspace], str] | None = None
    # The SMS editor's link inserts: a chosen value's text ("%s" is the value), and
    # fixed [(label, text)] inserts.
    sms_link: str = ""
    sms_fixed: tuple[tuple[str, str], ...] = ()


EXTRA_BLOCK_KINDS: dict[str, BlockKind] = {}


def register_block_kind(name: str, kind: BlockKind) -> None:
    EXTRA_BLOCK_KINDS.setdefault(name, kind)


def editor_kinds(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """What the editor's script needs of each registered kind."""
    return {
        name: {
            "label": kind.label,
            "field": kind.field,
            "field_label": kind.field_label,
            "choices": [[value, label] for value, label in kind.choices(workspace)],
            "empty": kind.empty,
            "search_url": kind.search_url(workspace) if kind.search_url else "",
            "sms_link": kind.sms_link,
            "sms_fixed": [list(pair) for pair in kind.sms_fixed],
        }
        for name, kind in EXTRA_BLOCK_KINDS.items()
    }
