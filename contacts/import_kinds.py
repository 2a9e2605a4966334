"""Kinds of CSV import other than contacts, which later apps register (the lifecycle
app's stage history), so that they reuse the contacts import's machinery (upload,
mapping, checkpointed chunks, row-numbered errors, progress) without the contacts app
importing them.

A kind says which columns a file can map to, suggests and checks a mapping, and
processes one chunk of rows inside the chunk's transaction, returning what it wrote
and the rows it refused; contacts/services/imports.py records the refusals and the
progress in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (row number, cells) of the rows a chunk holds that parsed as CSV.
Rows = list[tuple[int, list[str]]]


@dataclass(frozen=True)
class ChunkOutcome:
    created: int = 0
    unchanged: int = 0
    rejected: tuple[tuple[int, str], ...] = ()  # (row number, reason)


@dataclass(frozen=True)
class ImportKind:
    key: str  # stored on the job (ImportJob.kind)
    title: str  # "Stage history": page headings and the imports list
    help_text: str  # under the upload form: what the file holds
    targets: tuple[tuple[str, str], ...]  # (mapping target, label) a column can go to
    created_label: str  # what the "created" counter means for this kind
    unchanged_label: str
    suggest_mapping: Callable[[list[str]], dict[str, str]]
    # (headers, mapping, match_on) -> the cleaned mapping, or InvalidInput
    validate_mapping: Callable[[list[str], Any, Any], dict[str, str]]
    # (job, rows) -> outcome; called inside the chunk's transaction
    process_chunk: Callable[[Any, Rows], ChunkOutcome]
    # Whether rows name contacts (by email or external id, the job's match_on); a kind
    # whose rows are not about contacts (catalog: products) hides that choice.
    matches_contacts: bool = True


IMPORT_KINDS: dict[str, ImportKind] = {}


def register_import_kind(kind: ImportKind) -> None:
    IMPORT_KINDS.setdefault(kind.key, kind)
