"""`make run`: migrate, seed the demo, then run web, worker and beat until Ctrl-C.

Runs inside `scripts/services.py exec`, which has started the embedded PostgreSQL and
Redis when DATABASE_URL / REDIS_URL are unset, and stops them after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    if not port_free(port):
        print(
            f"Port {port} is taken; run with PORT=8001 make run (or stop the other server).",
            file=sys.stderr,
        )
        return 1
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run([*manage, *step], check=True, env=env, cwd=ROOT)

    processes = {
        "web": [
            sys.executable,
            "-m",
            "config.server",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        "worker": [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel",
            "info",
            "--concurrency",
            "2",
        ],
        "beat": [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel", "info"],
    }
    children = {name: subprocess.Popen(cmd, env=env, cwd=ROOT) for name, cmd in processes.items()}
    print(
        "\n"
        f"  Stagecraft is running at http://127.0.0.1:{port}/\n"
        "  Log in as demo@stagecraft.local with password stagecraft-demo\n"
        f"  API docs: http://127.0.0.1:{port}/api/docs/   Admin: /admin/\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping.", file=sys.stderr)
                stopping, code = True, 1
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
