"""Shared pieces of the benchmarks: a fresh database, Django set-up, the app served
as in production (gunicorn), and a description of the machine.

Every benchmark runs against its own database (`stagecraft_bench`) on the same server
as the app (the embedded one, or DATABASE_URL's), so it never touches your data."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import embedded  # noqa: E402

# BENCH_DB names another database, so that checkouts benchmarking on one server at
# once do not drop each other's.
BENCH_DB = os.environ.get("BENCH_DB", "stagecraft_bench")
SECRET_KEY = "bench-" + "s" * 50


def base_database_url() -> str:
    return os.environ.get("DATABASE_URL") or embedded.database_url()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_database(name: str = BENCH_DB) -> str:
    """Drop and create the benchmark database; return its URL."""
    import psycopg

    admin_url = with_database(base_database_url(), "postgres").replace(
        "postgres://", "postgresql://", 1
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(base_database_url(), name)


def database_from_template(template: str, name: str = BENCH_DB) -> str | None:
    """The benchmark database as a copy of `template` (a database a benchmark built
    earlier and kept), or None when there is no such database."""
    import psycopg

    admin_url = with_database(base_database_url(), "postgres").replace(
        "postgres://", "postgresql://", 1
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
        if exists.fetchone() is None:
            return None
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return with_database(base_database_url(), name)


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": SECRET_KEY,
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "/dev/null",
        }
    )
    env.update(extra)
    return env


def django_setup(database_url: str) -> None:
    os.environ.update(bench_env(database_url))
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebServer:
    """The app served as in production, DEBUG off: granian through config/server.py
    (kind "granian", the default) or gunicorn with gunicorn.conf.py (kind "gunicorn",
    kept to measure the two side by side). WEB_SERVER picks the default kind."""

    def __init__(
        self, database_url: str, workers: int, threads: int = 2, kind: str | None = None
    ) -> None:
        self.kind = kind or os.environ.get("WEB_SERVER", "granian")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        self.log = (ROOT / "bench" / "results" / f"{self.kind}.log").open("ab")
        env = bench_env(database_url)
        if self.kind == "gunicorn":
            command = [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--log-level",
                "warning",
                "--backlog",
                "2048",
            ]
        else:
            from config.server import command as granian_command

            command = granian_command(
                bind=f"127.0.0.1:{self.port}", workers=workers, threads=threads
            )
            env["LOG_LEVEL"] = "WARNING"
        # Its log goes to a file, so a benchmark's last line stays its JSON result.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        # Two minutes: on the shared VM at a load average of 16 granian took over one.
        deadline = time.monotonic() + 120
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()  # never left running behind the benchmark that gave up
                raise RuntimeError(f"{self.kind} did not start")
            time.sleep(0.2)

    def _answers(self) -> bool:
        """The server answers HTTP (granian listens before its workers have imported
        the app, so an open port is not enough)."""
        import http.client

        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/api/v1/")
            conn.getresponse().read()
            conn.close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self.log.close()


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def cpu_seconds_by_process() -> dict[str, float]:
    """CPU time used so far by the processes a benchmark involves, grouped by kind
    (Linux /proc); differences between two calls show who used the machine."""
    groups: dict[str, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks
        if int(entry.name) == me:
            kind = "load_generator"
        elif "gunicorn" in cmdline or "granian" in cmdline:
            kind = "web"
        elif "celery" in cmdline:
            kind = "worker"
        elif comm.startswith("postgres") or "postgres:" in cmdline:
            kind = "postgres"
        elif "redis" in comm:
            kind = "redis"
        else:
            kind = "other"
        groups[kind] = groups.get(kind, 0.0) + used
    return groups


def cpu_ms_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    return {
        kind: round((after.get(kind, 0.0) - before.get(kind, 0.0)) / max(count, 1) * 1000, 3)
        for kind in sorted(after)
        if after.get(kind, 0.0) - before.get(kind, 0.0) > 0.01
    }


def report(result: dict[str, Any]) -> None:
    """The last line a benchmark prints: one JSON object."""
    print(json.dumps(result, sort_keys=False), flush=True)


def copy_contacts(
    cursor: Any,
    *,
    workspace_id: int,
    count: int,
    rng: Any,
    now: Any,
    attributes: Callable[[int], dict[str, Any]],
) -> tuple[int, list[Any]]:
    """COPY `count` contacts who signed up over the past year (more of them lately),
    with `attributes(i)`; returns the first id and every contact's signup time."""
    import datetime as dt

    cursor.execute("SELECT nextval('contacts_contact_id_seq')")
    first_id = cursor.fetchone()[0] + 1
    signups = []
    with cursor.cursor.copy(
        "COPY contacts_contact (id, workspace_id, email, external_id, first_name, last_name, "
        "time_zone, locale, attributes, email_status, email_status_at, email_status_source, "
        "sms_status, sms_status_at, sms_status_source, created_at, updated_at, signed_up_at) "
        "FROM STDIN"
    ) as copy:
        for i in range(count):
            signup = now - dt.timedelta(
                days=365 * (1 - rng.random() ** 0.5), hours=rng.random() * 24
            )
            signups.append(signup)
            copy.write_row(
                (
                    first_id + i,
                    workspace_id,
                    f"c{i}@example.com",
                    f"ext-{i}",
                    "Bench",
                    "Contact",
                    "UTC",
                    "en-US",
                    json.dumps(attributes(i)),
                    "subscribed",
                    signup,
                    "bench",
                    "never_subscribed",
                    signup,
                    "bench",
                    signup,
                    signup,
                    signup,
                )
            )
    cursor.execute("SELECT setval('contacts_contact_id_seq', %s)", [first_id + count])
    return first_id, signups
