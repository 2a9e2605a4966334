"""The web server: granian serving config.wsgi, as production (docker-compose),
`make run`, the tests that start the app and the benchmarks run it.

    python -m config.server [--bind HOST:PORT] [--workers N] [--threads N] [granian options]

Defaults come from the environment: GRANIAN_BIND or 0.0.0.0:$PORT (8000),
WEB_CONCURRENCY processes (4) and WEB_THREADS threads each (4). Granian parses HTTP
in Rust and hands each request to a Python thread; measured side by side with
gunicorn's gthread workers in `make bench-ingest` (README), it serves more single
requests a second for less CPU. gunicorn stays installed for that comparison
(gunicorn.conf.py).

What gunicorn did and how it is kept here:
- URLs over 8000 bytes under /api/ get the API's own 414 (config/middleware.py);
  granian itself refuses request heads over its buffer (414, no body).
- There is no per-request kill timeout (gunicorn killed a worker silent for 60 s):
  a request that hangs holds one thread; a worker process that dies is respawned.
- No preload and fork: each worker process imports the app itself.
- The access log is off unless ACCESS_LOG=1."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "config.wsgi:application"


def command(
    *, bind: str | None = None, workers: int | None = None, threads: int | None = None
) -> list[str]:
    """The granian command line for the given (or the environment's) settings."""
    bind = bind or os.environ.get("GRANIAN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
    host, _, port = bind.rpartition(":")
    workers = workers or int(os.environ.get("WEB_CONCURRENCY", "4"))
    threads = threads or int(os.environ.get("WEB_THREADS", "4"))
    access_log = os.environ.get("ACCESS_LOG", "0") == "1"
    return [
        str(Path(sys.executable).parent / "granian"),
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        port,
        "--workers",
        str(workers),
        # WSGI requests run on this many threads per process; more only queue on the GIL.
        "--blocking-threads",
        str(threads),
        "--backlog",
        "2048",
        "--no-ws",
        "--respawn-failed-workers",
        "--access-log" if access_log else "--no-access-log",
        "--log-level",
        os.environ.get("LOG_LEVEL", "info").lower(),
        APP,
    ]


def main(argv: list[str]) -> None:
    options: dict[str, str] = {}
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("--bind", "--workers", "--threads"):
            options[arg[2:]] = next(args)
        else:
            rest.append(arg)
    cmd = command(
        bind=options.get("bind"),
        workers=int(options["workers"]) if "workers" in options else None,
        threads=int(options["threads"]) if "threads" in options else None,
    )
    # The app's module path last; extra granian options before it.
    os.execv(cmd[0], [*cmd[:-1], *rest, cmd[-1]])  # noqa: S606 - our own argv, no shell


if __name__ == "__main__":
    main(sys.argv[1:])
