"""The answer of a batch upsert (contacts, products): each item cleaned on its own, the
valid ones written in one statement, and one result per item in the order given, with
the counts of what happened (`BATCH_ITEM_STATUSES`: created, updated, unchanged, error)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Outcome(Protocol):
    index: int

    def as_dict(self) -> dict[str, Any]: ...


def batch_answer(
    items: list[Any],
    clean: Callable[[Any], tuple[dict[str, Any], dict[str, list[str]]]],
    upsert: Callable[[list[dict[str, Any]]], Sequence[Outcome]],
) -> dict[str, Any]:
    cleaned: list[dict[str, Any]] = []
    positions: list[int] = []
    results: list[dict[str, Any]] = [{} for _ in items]
    for index, item in enumerate(items):
        data, errors = clean(item)
        if errors:
            results[index] = {"index": index, "status": "error", "errors": errors}
        else:
            cleaned.append(data)
            positions.append(index)
    for position, outcome in zip(positions, upsert(cleaned), strict=True):
        outcome.index = position
        results[position] = outcome.as_dict()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    for result in results:
        counts[result["status"]] += 1
    return {
        "created": counts["created"],
        "updated": counts["updated"],
        "unchanged": counts["unchanged"],
        "errors": counts["error"],
        "results": results,
    }
