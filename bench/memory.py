"""A process's own memory, as the benchmarks report it.

Not `resource.getrusage(RUSAGE_SELF).ru_maxrss`: on Linux that figure survives exec.
The kernel folds the replaced address space's high-water mark into the process's
`maxrss` when it execs (`exec_mmap`), and `subprocess` starts a child by vfork and
exec, so the child's `ru_maxrss` starts at the PARENT's peak: a compute child of a
bench that had 2.9 GB in hand reports 2.9 GB whatever it uses itself. `VmHWM` in
/proc/self/status is the high-water mark of the process's current address space,
which exec creates empty: the child's own peak."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def own_peak_rss_mb() -> float:
    """This process's peak resident memory since its exec (VmHWM), in MB; where there
    is no /proc (not Linux), ru_maxrss, which there does not carry a parent's peak."""
    peak = _status_kb("VmHWM")
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB (0 without /proc)."""
    return (_status_kb("VmRSS") or 0) / 1024


class RssSampler:
    """A thread reading VmRSS every `interval` seconds while in the `with` block:
    `peak_during(start, stop)` is the largest sample between two perf_counter times
    (say, one step of a computation whose durations are known)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), rss_mb()))

    def peak_during(self, start: float, stop: float) -> float:
        """The largest sample in [start, stop]; for a window shorter than the interval
        with none in it, the last sample before it (0 if none)."""
        inside = [mb for at, mb in self.samples if start <= at <= stop]
        if inside:
            return max(inside)
        before = [mb for at, mb in self.samples if at < start]
        return before[-1] if before else 0.0
