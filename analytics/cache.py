"""The version of a workspace's cached figures (see `analytics.report_cache.figures`):
bumped when something changes them all at once — a rollup rebuild, a CLV fit, spend —
and the moment the rollups last took in new data (`data_changed`), by which a cached
figure older than FRESH_SECONDS is known to be still true or not."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

# A figure reflects every piece of data accepted more than this many seconds before it
# is shown, whatever ANALYTICS_CACHE_SECONDS says (docs/analytics.md, "Freshness").
FRESH_SECONDS = 15


def _key(workspace_id: int) -> str:
    return f"analytics:{workspace_id}:version"


def _changed_key(workspace_id: int) -> str:
    return f"analytics:{workspace_id}:data-changed"


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


def data_changed(*, workspace_ids: set[int]) -> None:
    """Note, once the caller's transaction commits, that these workspaces' rollups took
    in new data: cached figures computed before now are no longer known to be true.
    After the commit, so a figure computed from before it is never taken for newer."""

    def stamp() -> None:
        now = timezone.now().timestamp()
        cache.set_many({_changed_key(pk): now for pk in workspace_ids}, timeout=None)

    transaction.on_commit(stamp)


def data_changed_at(*, workspace_id: int) -> dt.datetime:
    """When the workspace's rollups last took in data. Unknown (a cache flushed or
    restarted): now, so nothing cached before is trusted, and it is known from here on."""
    value = cache.get(_changed_key(workspace_id))
    if value is None:
        value = timezone.now().timestamp()
        cache.add(_changed_key(workspace_id), value, timeout=None)
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
