"""The API keys this process has recently looked up, and how a revocation anywhere
empties them in every process at once.

Reading the key from PostgreSQL on every request is most of a single-event request's
database time, so each web process keeps the keys it has read for KEY_CACHE_SECONDS.
A revoked key must not keep working in the other processes for that long:

1. api_key_revoke publishes the key's hash on a Redis channel once its transaction has
   committed (`revocation_publish`).
2. Each process that authenticates keys runs one listener thread (started on first use,
   so after gunicorn forks) subscribed to that channel. A message drops the hash from
   the cache and bumps a generation counter, so that a lookup that read the key from
   the database before the revocation committed does not put it back.
3. The cache is used only while the listener is subscribed. Before it has subscribed,
   and from the moment its connection fails, every lookup reads PostgreSQL; when it
   subscribes again the cache starts empty. A revocation published while a process was
   not listening therefore cannot be missed: it fails safe, only slower.

What is left: the time a published message takes to reach the other processes (well
under a millisecond on one host). If Redis accepts the subscription but stops answering
without closing the connection, the listener notices within its health check (PING every
LISTENER_PING_SECONDS, LISTENER_TIMEOUT_SECONDS to answer); KEY_CACHE_SECONDS bounds
everything, so a key is never trusted from the cache for longer than that."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from workspaces.models import ApiKey

log = logging.getLogger(__name__)

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
LISTENER_PING_SECONDS = 2
LISTENER_TIMEOUT_SECONDS = 3.0
LISTENER_RETRY_SECONDS = 1.0

_lock = threading.Lock()
_keys: dict[str, tuple[ApiKey, float]] = {}
_listening = False
_generation = 0
_listener_pid: int | None = None


def _redis_location() -> str:
    return str(settings.CACHES["default"]["LOCATION"])


def channel() -> str:
    """Pub/sub channels are server-wide (not per database): the cache's key prefix
    keeps the test suite's apart from a running app's."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:api_key.revoked"


def _drop_all() -> None:
    global _generation
    _keys.clear()
    _generation += 1


def _listen() -> None:
    global _listening, _generation
    client = redis.Redis.from_url(
        _redis_location(),
        socket_timeout=LISTENER_TIMEOUT_SECONDS,
        socket_connect_timeout=LISTENER_TIMEOUT_SECONDS,
        health_check_interval=LISTENER_PING_SECONDS,
    )
    failing = False
    while True:
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(channel())
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    with _lock:
                        _drop_all()
                        _listening = True
                    if failing:
                        log.info("workspaces.api_key_cache_listening")
                        failing = False
                elif message["type"] == "message":
                    data = message["data"]
                    key_hash = data.decode() if isinstance(data, bytes) else str(data)
                    with _lock:
                        _keys.pop(key_hash, None)
                        _generation += 1
        except Exception as exc:  # any failure: stop trusting the cache, then retry
            with _lock:
                _listening = False
                _drop_all()
            if not failing:
                log.warning("workspaces.api_key_cache_not_listening error=%r", exc)
                failing = True
            time.sleep(LISTENER_RETRY_SECONDS)
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone
                pubsub.close()


def _ensure_listener() -> None:
    """One listener per process, started here rather than at import: gunicorn loads the
    app in its master and forks, and a thread does not survive a fork."""
    global _listener_pid, _listening
    pid = os.getpid()
    if _listener_pid == pid:
        return
    with _lock:
        if _listener_pid == pid:
            return
        _listener_pid = pid
        _listening = False
        _drop_all()
    threading.Thread(target=_listen, name="api-key-revocations", daemon=True).start()


def generation() -> int | None:
    """Read before a lookup in the database and hand to `remember` after it; None when
    the cache is not in use (the listener is not subscribed)."""
    _ensure_listener()
    with _lock:
        return _generation if _listening else None


def cached(key_hash: str) -> ApiKey | None:
    _ensure_listener()
    with _lock:
        if not _listening:
            return None
        entry = _keys.get(key_hash)
    if entry is None or time.monotonic() - entry[1] >= KEY_CACHE_SECONDS:
        return None
    return entry[0]


def remember(key_hash: str, key: ApiKey, read_generation: int | None) -> None:
    """Keep a key read from the database, unless a revocation (any) arrived while it
    was being read."""
    with _lock:
        if read_generation is None or not _listening or read_generation != _generation:
            return
        if len(_keys) >= KEY_CACHE_MAX:
            _keys.clear()
        _keys[key_hash] = (key, time.monotonic())


def forget(key_hash: str) -> None:
    with _lock:
        _keys.pop(key_hash, None)


def revocation_publish(key_hash: str) -> None:
    """Tell every process (this one too) to drop the key, once the revocation is
    committed: a process that reads the database after the message sees it revoked."""
    forget(key_hash)

    def publish() -> None:
        try:
            with redis.Redis.from_url(
                _redis_location(),
                socket_timeout=LISTENER_TIMEOUT_SECONDS,
                socket_connect_timeout=LISTENER_TIMEOUT_SECONDS,
            ) as client:
                client.publish(channel(), key_hash)
        except redis.RedisError as exc:
            # Processes whose listener is cut off from Redis too read the database on
            # every request; one still subscribed keeps the key at most
            # KEY_CACHE_SECONDS.
            log.error("workspaces.api_key_revocation_not_published error=%r", exc)

    transaction.on_commit(publish)
