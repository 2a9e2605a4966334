"""A/B(/n) tests on journey send steps, with an automatic winner.

A send step with `variants` and `winner: {"pool": N, "wait_hours": H, "metric":
"clicks" | "conversions"}` splits its first N contacts exactly by weight. Contacts who
arrive after the pool is full wait at the step; H hours after the pool filled, the
test is judged and they (and everyone after them) get the winner:

- clicks: clicked / sent of the step's messages, per variant;
- conversions: contacts who reached the journey's goal / contacts in the variant.

The best variant wins if it beats the first (the control) at p < 0.05 (two-proportion
z-test); otherwise the control wins. The decision and its reason are kept on the step
(`assigned["_winner"]`) and shown with the step's counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

from campaigns.models import JourneyStep
from campaigns.significance import SIGNIFICANCE, two_proportion_p_value


def variant_results(step: JourneyStep) -> dict[str, dict[str, int]]:
    """Per variant label: contacts, sent, clicked, converted."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT e.path ->> %(key)s, count(*), count(m.sent_at), count(m.clicked_at),
                      count(e.converted_at)
               FROM campaigns_journeyenrolment e
               LEFT JOIN campaigns_message m
                 ON m.workspace_id = e.workspace_id
                AND m.idempotency_key = 'journey:' || e.id || ':' || %(step)s
               WHERE e.journey_id = %(journey)s AND e.path ? %(key)s
               GROUP BY 1""",
            {"key": step.key, "step": step.pk, "journey": step.journey_id},
        )
        return {
            label: {"contacts": n, "sent": sent, "clicked": clicked, "converted": converted}
            for label, n, sent, clicked, converted in cursor.fetchall()
        }


def judge(labels: list[str], results: dict[str, dict[str, int]], metric: str) -> tuple[str, str]:
    """(winning label, reason). `labels[0]` is the control."""
    hits, base = ("clicked", "sent") if metric == "clicks" else ("converted", "contacts")
    empty = {"contacts": 0, "sent": 0, "clicked": 0, "converted": 0}
    rows = {label: results.get(label, empty) for label in labels}

    def rate(label: str) -> float:
        row = rows[label]
        return row[hits] / row[base] if row[base] else 0.0

    control = labels[0]
    best = max(labels, key=lambda label: (rate(label), label == control))
    if best == control:
        return control, f"{control} (control) has the best {metric} rate"
    p = two_proportion_p_value(
        rows[best][hits], rows[best][base], rows[control][hits], rows[control][base]
    )
    facts = (
        f"{best} {rows[best][hits]}/{rows[best][base]} vs {control} "
        f"{rows[control][hits]}/{rows[control][base]}, p={p:.4f}"
    )
    if p < SIGNIFICANCE:
        return best, f"{best} wins on {metric}: {facts}"
    return control, f"not significant, the control {control} wins: {facts}"


def winner_state(step: JourneyStep) -> dict[str, Any]:
    return dict(step.assigned.get("_winner") or {})


def decide_if_due(step: JourneyStep, now: dt.datetime) -> str | None:
    """The winner's label, deciding it now if the wait after the pool has passed.
    Call with the step row locked (select_for_update)."""
    config = step.config.get("winner") or {}
    state = winner_state(step)
    if state.get("label"):
        return str(state["label"])
    filled = state.get("pool_full_at")
    if not filled:
        return None
    if now < dt.datetime.fromisoformat(filled) + dt.timedelta(hours=config.get("wait_hours", 24)):
        return None
    labels = [v["label"] for v in step.config["variants"]]
    label, reason = judge(labels, variant_results(step), config.get("metric", "clicks"))
    state.update({"label": label, "reason": reason, "decided_at": now.isoformat()})
    step.assigned = {**step.assigned, "_winner": state}
    JourneyStep.objects.filter(pk=step.pk).update(assigned=step.assigned)
    return label
