"""Real processes for tests: a Celery worker (and beat) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database pytest-django created, for child processes."""
    db: dict[str, Any] = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or ""
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{name}?host={host}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{name}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": test_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def purge_broker() -> None:
    with app.connection_for_write() as conn:
        for queue in ("celery", "prompt"):
            conn.default_channel.queue_purge(queue)  # type: ignore[attr-defined]


class Worker:
    def __init__(self, concurrency: int = 1, log: Path | None = None) -> None:
        self.log_path = (
            log or Path(os.environ.get("TMPDIR", "/tmp")) / f"worker-{time.time_ns()}.log"
        )
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    # What to run and the log line that says it is ready; Beat names its own.
    kind = "worker"
    ready_line = b" ready."

    def arguments(self) -> list[str]:
        return [
            "worker",
            "--loglevel",
            "info",
            "--concurrency",
            str(self.concurrency),
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--pool",
            "prefork",
        ]

    def start(self, timeout: float = 30, env: dict[str, str] | None = None) -> Self:
        """Start it; `env` replaces the test settings (the benchmarks pass theirs)."""
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *self.arguments()],
            cwd=ROOT,
            env={**os.environ, **env} if env is not None else child_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while self.ready_line not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not start:\n" + self.output()[-3000:])
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory (VmHWM) of the worker's processes."""
        assert self.process is not None
        peak = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self.process.pid:
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ProcessLookupError):
                continue
        return peak / 1024

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if hasattr(self, "log"):
            self.log.close()


class Beat(Worker):
    """Celery beat with the database scheduler, as `make run` and compose run it."""

    kind = "beat"
    ready_line = b"beat: Starting"

    def arguments(self) -> list[str]:
        schedule = self.log_path.with_suffix(".schedule")
        return ["beat", "--loglevel", "info", "--schedule", str(schedule)]


@contextmanager
def running_worker(concurrency: int = 1) -> Iterator[Worker]:
    worker = Worker(concurrency).start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
