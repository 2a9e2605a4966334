"""Where a 1000-purchase batch's time goes, with and without the points programme: the
batches bench-loyalty times (events_ingest, then the lifecycle engine, which earns the
points), each SQL statement timed and summed by its text.

Runs on a data set `make bench-loyalty` built and kept (DATABASE, default
stagecraft_bench_loyalty; it must exist). RUNS pairs of batches (default 4, programme
on then off, fresh contacts each: `OFFSET` contacts past the first, and past that each
run), after an ANALYZE (what autovacuum would have done since the last run). Prints the
slowest statements of each side, then one JSON object: the batches' times, their
medians and the overhead in %, and the SQL time per batch on each side.

    DATABASE=stagecraft_bench_loyalty RUNS=6 .venv/bin/python -m bench.loyalty_profile"""

from __future__ import annotations

import collections
import os
import statistics
import time
from typing import Any

from bench.common import base_database_url, django_setup, machine, report, with_database
from bench.loyalty_reports import log

DATABASE = os.environ.get("DATABASE", "stagecraft_bench_loyalty")
RUNS = int(os.environ.get("RUNS", "4"))
BATCH = int(os.environ.get("BATCH", "1000"))
OFFSET = int(os.environ.get("OFFSET", "500000"))
TOP = int(os.environ.get("TOP", "20"))


def main() -> None:
    django_setup(with_database(base_database_url(), DATABASE))
    from django.db import connection

    from contacts.services.events import events_ingest
    from lifecycle.services import marked_contacts_evaluate
    from loyalty.services import programme_update
    from workspaces.models import Workspace
    from workspaces.services import Actor

    workspace = Workspace.objects.get(slug="bench")
    with connection.cursor() as cursor:
        cursor.execute("SELECT first_id FROM bench_built_v2")
        first_id = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    nonce = str(int(time.time()))
    # Each run (a minute apart or more) starts somewhere new, so its contacts have not
    # earned in an earlier run: within 400,000 contacts past OFFSET (the set has 1M).
    start = first_id + OFFSET + (int(nonce) // 60 * BATCH * RUNS * 2) % 400_000
    sql_ms: dict[bool, dict[str, float]] = {
        True: collections.defaultdict(float),
        False: collections.defaultdict(float),
    }
    side = [True]

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:100]
            sql_ms[side[0]][key] += (time.perf_counter() - started) * 1000

    batches: dict[bool, list[float]] = {True: [], False: []}
    for run in range(RUNS * 2):
        enabled = run % 2 == 0
        programme_update(
            workspace=workspace, data={"enabled": enabled}, actor=Actor(system="bench")
        )
        first = start + run * BATCH
        items = [
            {
                "contact": {"id": first + k},
                "name": "purchase",
                "revenue": f"{10 + k % 90}.{k % 100:02d}",
                "idempotency_key": f"profile-{nonce}-{run}-{k}",
                "properties": {"order_id": f"p-{nonce}-{run}-{k}"},
            }
            for k in range(BATCH)
        ]
        side[0] = enabled
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            events_ingest(workspace=workspace, items=items)
            while marked_contacts_evaluate(limit=2000):
                pass
        batches[enabled].append(round((time.perf_counter() - started) * 1000, 1))
        log(f"batch {run} programme {'on' if enabled else 'off'}: {batches[enabled][-1]} ms")
    for enabled in (True, False):
        log(f"slowest statements, programme {'on' if enabled else 'off'} (ms per batch):")
        for text, total in sorted(sql_ms[enabled].items(), key=lambda kv: -kv[1])[:TOP]:
            log(f"  {total / RUNS:8.1f}  {text}")
    on, off = statistics.median(batches[True]), statistics.median(batches[False])
    report(
        {
            "benchmark": "loyalty_profile",
            "batches_ms": {"on": batches[True], "off": batches[False]},
            "median_ms": {"on": round(on, 1), "off": round(off, 1)},
            "ingest_overhead_pct": round((on - off) / off * 100, 1),
            "sql_ms_per_batch": {
                "on": round(sum(sql_ms[True].values()) / RUNS, 1),
                "off": round(sum(sql_ms[False].values()) / RUNS, 1),
            },
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
