"""bench/memory.py: the peak a benchmark reports for a child process is the child's
own, not the peak of the process that started it (what ru_maxrss gave bench-recs)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if not Path("/proc/self/status").exists():  # pragma: no cover - Linux only
    pytest.skip("VmHWM needs /proc", allow_module_level=True)

# A child that prints its own peak (own_peak_rss_mb) and its ru_maxrss, after first
# holding `touch` MB itself.
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from bench.memory import own_peak_rss_mb
    held = np.ones(int(sys.argv[1]) * 2**20 // 8)
    del held
    print(json.dumps({
        "own": own_peak_rss_mb(),
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    """
)


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_childs_peak_is_its_own_not_its_parents() -> None:
    # The parent holds 600 MB, lets it go, then starts the child (vfork and exec, as
    # bench-recs starts its compute) that holds 50 MB.
    parent = textwrap.dedent(
        f"""
        import subprocess, sys
        import numpy as np
        held = np.ones(600 * 2**20 // 8)
        del held
        code = {_CHILD!r}
        done = subprocess.run([sys.executable, "-c", code, "50"], capture_output=True,
                              text=True, check=True)
        print(done.stdout.strip())
        """
    )
    child = json.loads(_run(parent))
    assert 50 <= child["own"] < 300
    # The trap this module avoids: the kernel carried the parent's peak over the exec.
    assert child["ru_maxrss"] >= 600


def test_a_childs_own_allocation_shows_in_its_peak() -> None:
    child = json.loads(_run(_CHILD, "400"))
    assert child["own"] >= 400


def test_the_sampler_sees_memory_held_during_a_window() -> None:
    code = textwrap.dedent(
        """
        import json, time
        import numpy as np
        from bench.memory import RssSampler
        with RssSampler(interval=0.01) as sampler:
            time.sleep(0.1)
            before = time.perf_counter()
            held = np.ones(300 * 2**20 // 8)
            time.sleep(0.2)
            during = time.perf_counter()
            del held
            time.sleep(0.1)
        print(json.dumps({
            "before": sampler.peak_during(0, before),
            "during": sampler.peak_during(before, during),
            "after": sampler.peak_during(during + 0.05, time.perf_counter()),
            "no_sample": sampler.peak_during(during - 0.0002, during - 0.0001),
        }))
        """
    )
    peaks = json.loads(_run(code))
    assert peaks["during"] >= peaks["before"] + 250
    assert peaks["after"] < peaks["during"] - 250
    # A window too short for a sample: the RSS of the last one before it (or its own).
    assert peaks["no_sample"] >= peaks["during"] - 50
