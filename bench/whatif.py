"""make bench-whatif: what-if before saving a stage rule, at scale.

Builds the workspace of bench/sweep.py (CONTACTS contacts, default 1,000,000, ~10
events each, the default stages), puts every contact in its stage with a sweep, pins
1% of them, then times:

  whatif_now_s         POST /api/v1/stages/preview/'s work (lifecycle.whatif.whatif_now)
                       for one changed rule ("repeat" needs 3 purchases, not 2): the
                       median of RUNS runs (target <= 2 s at 1M contacts)
  whatif_now_list_s    the same for the whole stage list in another order
  funnel_step_s        one step of the 12-month funnel job: the stage counts as of
                       the month end before last under the proposed rules
                       (raw events, as_of); the job runs 24 such steps

Runs in its own database (stagecraft_bench_whatif). REUSE=1 times again on the
database a previous run built (migrated to the current code first), without building
it. Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from typing import Any

from bench.common import (
    base_database_url,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)
from bench.sweep_data import CONTACTS, build, log

RUNS = int(os.environ.get("RUNS", "3"))
REUSE = os.environ.get("REUSE") == "1"


def timed(function: object, runs: int = RUNS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def build_and_sweep() -> tuple[dt.datetime, Any, int]:
    """The workspace of bench/sweep.py, summarised, swept, 1% pinned."""
    from django.db import connection

    from contacts.services import event_summaries_rebuild
    from lifecycle.services import sweep_now
    from workspaces.services import workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    workspace, _ = workspace_provision(slug="bench", name="Bench")
    events = build(workspace.pk, now)
    with connection.cursor() as cursor:
        # Signed up when their first event says (the generator's signup time).
        cursor.execute(
            "UPDATE contacts_contact SET signed_up_at = created_at WHERE workspace_id = %s",
            [workspace.pk],
        )
    started = time.perf_counter()
    event_summaries_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_eventsummary")
        cursor.execute("VACUUM ANALYZE contacts_contact")
    log(f"summaries in {time.perf_counter() - started:.1f}s; sweeping every contact")
    started = time.perf_counter()
    sweep_now(workspace=workspace, now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE lifecycle_contactstage SET pinned = true "
            "WHERE workspace_id = %s AND contact_id %% 100 = 0",
            [workspace.pk],
        )
        cursor.execute("VACUUM ANALYZE lifecycle_contactstage")
    log(f"swept in {time.perf_counter() - started:.1f}s; timing the what-if")

    return now, workspace, events


def main() -> None:
    name = "stagecraft_bench_whatif"
    url = with_database(base_database_url(), name) if REUSE else fresh_database(name)
    django_setup(url)
    log("migrating the bench database")
    migrate()

    from contacts.models import Contact, Event
    from lifecycle.selectors import stages_for_workspace
    from lifecycle.services.whatif import month_ends
    from lifecycle.whatif import funnel_as_of, proposal_parse, whatif_now

    if REUSE:
        from workspaces.models import Workspace

        workspace = Workspace.objects.get(slug="bench")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        events = Event.objects.filter(workspace=workspace).count()
        assert Contact.objects.filter(workspace=workspace).count() == CONTACTS
    else:
        now, workspace, events = build_and_sweep()
    one = proposal_parse(
        workspace=workspace, body={"stage": "repeat", "rule": {"purchases": {"gte": 3}}}
    )
    whatif_now_s, answer = timed(lambda: whatif_now(workspace=workspace, proposal=one, now=now))
    order = ["lead", "customer", "repeat", "loyal", "advocate", "at_risk", "lapsed"]
    rules = {s.key: s.rule for s in stages_for_workspace(workspace=workspace)}
    listed = proposal_parse(
        workspace=workspace, body={"stages": [{"key": k, "rule": rules[k]} for k in order]}
    )
    whatif_list_s, listed_answer = timed(
        lambda: whatif_now(workspace=workspace, proposal=listed, now=now)
    )
    moment = month_ends(workspace=workspace, now=now)[-2]
    log("timing one step of the 12-month funnel")
    funnel_step_s, counts = timed(
        lambda: funnel_as_of(workspace=workspace, proposal=one, moment=moment), runs=1
    )
    assert isinstance(answer, dict) and isinstance(listed_answer, dict)
    assert isinstance(counts, dict)
    report(
        {
            "benchmark": "whatif",
            "contacts": CONTACTS,
            "events": events,
            "runs": RUNS,
            "whatif_now_s": round(whatif_now_s, 3),
            "whatif_now_moving": answer["moving"],
            "whatif_now_held_by_pins": answer["held_by_pins"],
            "whatif_now_list_s": round(whatif_list_s, 3),
            "whatif_now_list_moving": listed_answer["moving"],
            "funnel_step_s": round(funnel_step_s, 3),
            "funnel_step_contacts": sum(counts.values()),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
