"""The house rules CI enforces: ruff (lint and format) and mypy are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean():
    lint = run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout[-4000:]
    layout = run(str(BIN / "ruff"), "format", "--check", ".")
    assert layout.returncode == 0, layout.stdout[-4000:]


def test_mypy_is_clean():
    result = run(str(BIN / "mypy"), ".")
    assert result.returncode == 0, result.stdout[-4000:]


def test_imports_flow_one_way():
    """workspaces -> contacts -> lifecycle -> messaging -> campaigns -> analytics."""
    import ast

    order = ["workspaces", "contacts", "lifecycle", "messaging", "campaigns", "analytics"]
    wrong = []
    for rank, app in enumerate(order):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in order and order.index(top) > rank:
                        wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
