"""The version of a workspace's cached figures (see `analytics.report_cache.figures`):
bumped when something changes them all at once — a rollup rebuild, a CLV fit, spend."""

from __future__ import annotations

from django.core.cache import cache


def _key(workspace_id: int) -> str:
    return f"analytics:{workspace_id}:version"


def figures_version(*, workspace_id: int) -> int:
    return int(cache.get(_key(workspace_id), 0))


def figures_viewed(*, workspace_id: int) -> None:
    """Note that the workspace's figures are in use (for a day): they are kept warm."""
    cache.set(f"analytics:{workspace_id}:viewed", 1, timeout=86400)


def workspaces_viewed(workspace_ids: list[int]) -> list[int]:
    keys = {f"analytics:{pk}:viewed": pk for pk in workspace_ids}
    return sorted(keys[key] for key in cache.get_many(list(keys)))


def figures_changed(*, workspace_id: int) -> None:
    """Forget the cached figures of a workspace."""
    key = _key(workspace_id)
    if not cache.add(key, 1, timeout=None):
        try:
            cache.incr(key)
        except ValueError:  # gone between add and incr
            cache.add(key, 1, timeout=None)
