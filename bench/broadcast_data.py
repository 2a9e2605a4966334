"""The data set of bench/broadcast.py: contacts spread over time zones, their stages,
a segment and an exclusion segment, and a suppression list, written with COPY.

Every contact's part is fixed by its index i (i % 20):

  0-15  plan pro, in the target stage, subscribed       -> the audience
  16    plan pro, in another stage                      -> not in segment ∩ stage
  17    plan free, in the target stage                  -> not in the segment
  18    plan pro, target stage, promos "no"             -> excluded (exclusion segment)
  19    plan pro, target stage, unsubscribed            -> no consent

so the audience is 16/20 of the contacts. Among the audience, i % 100 == 3 is on the
suppression list (materialised, then suppressed by the dispatcher as in production:
the list holds hashes). Time zones rotate through `ZONES`; i % 50 == 7 has no zone
of its own but a London number (its zone comes from the phone region, in Python)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

ZONES = [
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]
TARGET_STAGE = "repeat"
OTHER_STAGE = "lapsed"


@dataclass(frozen=True)
class Built:
    contacts: int
    audience: int
    suppressed: int
    segment_id: int
    exclusion_id: int


def log(message: str) -> None:
    print(f"[bench-broadcast] {message}", flush=True)


def part(i: int) -> int:
    return i % 20


def in_audience(i: int) -> bool:
    return part(i) < 16


def zone_of(i: int) -> tuple[str, str | None]:
    """(time_zone, phone) of contact i."""
    if i % 50 == 7:
        return "", f"+44207{i // 50 % 10_000_000:07d}"
    return ZONES[i % len(ZONES)], None


def build(workspace: Any, audience: int, actor: Any) -> Built:
    from django.db import connection

    from contacts.models import Channel, Suppression
    from contacts.services import value_hash
    from contacts.services.segments import segment_create
    from lifecycle.models import Stage
    from lifecycle.services import stages_create_defaults

    if not Stage.objects.filter(workspace=workspace).exists():
        stages_create_defaults(workspace=workspace)
    stages = dict(Stage.objects.filter(workspace=workspace).values_list("key", "pk"))
    target, other = stages[TARGET_STAGE], stages[OTHER_STAGE]
    total = -(-audience * 20 // 16)  # the audience is 16 of every 20
    started = time.perf_counter()
    stamp = "2026-01-01T00:00:00Z"
    suppressed: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('contacts_contact_id_seq')")
        first_id = cursor.fetchone()[0] + 1
        with cursor.cursor.copy(
            "COPY contacts_contact (id, workspace_id, email, phone, first_name, last_name, "
            "time_zone, locale, attributes, email_status, email_status_at, email_status_source, "
            "sms_status, sms_status_at, sms_status_source, created_at, updated_at, signed_up_at) "
            "FROM STDIN"
        ) as copy:
            for i in range(total):
                kind = part(i)
                zone, phone = zone_of(i)
                attributes: dict[str, str] = {"plan": "free" if kind == 17 else "pro"}
                if kind == 18:
                    attributes["promos"] = "no"
                email = f"c{i}@example.com"
                if in_audience(i) and i % 100 == 3:
                    suppressed.append(email)
                copy.write_row(
                    (
                        first_id + i,
                        workspace.pk,
                        email,
                        phone,
                        f"Name{i}",
                        "Bench",
                        zone,
                        "en-US",
                        json.dumps(attributes),
                        "unsubscribed" if kind == 19 else "subscribed",
                        stamp,
                        "bench",
                        "never_subscribed",
                        stamp,
                        "bench",
                        stamp,
                        stamp,
                        stamp,
                    )
                )
        cursor.execute("SELECT setval('contacts_contact_id_seq', %s)", [first_id + total])
        with cursor.cursor.copy(
            "COPY lifecycle_contactstage (contact_id, workspace_id, stage_id, entered_at, pinned) "
            "FROM STDIN"
        ) as copy:
            for i in range(total):
                stage = other if part(i) == 16 else target
                copy.write_row((first_id + i, workspace.pk, stage, stamp, False))
        log(f"{total} contacts and their stages copied in {time.perf_counter() - started:.1f}s")
        Suppression.objects.bulk_create(
            [
                Suppression(
                    workspace=workspace,
                    channel=Channel.EMAIL,
                    value_hash=value_hash(Channel.EMAIL, email),
                    reason=Suppression.Reason.BOUNCED,
                )
                for email in suppressed
            ],
            batch_size=5000,
        )
        cursor.execute("VACUUM ANALYZE contacts_contact")
        cursor.execute("VACUUM ANALYZE lifecycle_contactstage")
    segment = segment_create(
        workspace=workspace,
        data={
            "name": "Pro repeat customers",
            "rule": {
                "all": [
                    {"attr": "plan", "op": "eq", "value": "pro"},
                    {"field": "stage", "op": "eq", "value": TARGET_STAGE},
                ]
            },
        },
        actor=actor,
    )
    exclusion = segment_create(
        workspace=workspace,
        data={"name": "No promotions", "rule": {"attr": "promos", "op": "eq", "value": "no"}},
        actor=actor,
    )
    expected = sum(1 for i in range(total) if in_audience(i))
    return Built(total, expected, len(suppressed), segment.pk, exclusion.pk)
