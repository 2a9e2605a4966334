"""The stage figures defined over the raw rows: counts on a day, movement, flow,
conversion and time in stage."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from typing import Any

from analytics.figures.common import Period
from tests.analytics.reference_base import (
    HISTOGRAM,
    ORDER,
    PATH,
    TZ,
    RawData,
    bucket_list,
    bucket_of,
    days_between,
    pct_cont,
    period_instants,
    r3,
)


class RawStages(RawData):
    # stages
    def moves(self, keep: set[int]) -> list[dict[str, Any]]:
        return [t for t in self.transitions if t["contact_id"] in keep and t["notified_at"]]

    def stage_on(self, keep: set[int], day: dt.date) -> dict[str, int]:
        """Contacts per stage key at the end of a local day: each contact's last move."""
        where: dict[int, str] = {}
        for t in self.moves(keep):
            if t["at"].astimezone(TZ).date() <= day:
                where[t["contact_id"]] = self.stage_key[t["to_stage_id"]]
        return dict(Counter(where.values()))

    def moves_in(self, keep: set[int], start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        return [t for t in self.moves(keep) if start <= t["at"].astimezone(TZ).date() <= end]

    def movement(self, keep: set[int], period: Period, granularity: str) -> list[dict[str, Any]]:
        entries: Counter[tuple[dt.date, str]] = Counter()
        exits: Counter[tuple[dt.date, str]] = Counter()
        for t in self.moves_in(keep, period.start, period.end):
            bucket = bucket_of(t["at"].astimezone(TZ).date(), granularity)
            entries[(bucket, self.stage_key[t["to_stage_id"]])] += 1
            if t["from_stage_id"]:
                exits[(bucket, self.stage_key[t["from_stage_id"]])] += 1
        return [
            {
                "bucket": b.isoformat(),
                "stage": k,
                "entries": entries[(b, k)],
                "exits": exits[(b, k)],
            }
            for b in bucket_list(period.start, period.end, granularity)
            for k in ORDER
        ]

    def flow(self, keep: set[int], period: Period) -> list[dict[str, Any]]:
        pairs = Counter(
            (self.stage_key.get(t["from_stage_id"]), self.stage_key[t["to_stage_id"]])
            for t in self.moves_in(keep, period.start, period.end)
        )
        return sorted(
            ({"from": f, "to": to, "moves": n} for (f, to), n in pairs.items()),
            key=lambda r: (-r["moves"], r["from"] or "", r["to"]),
        )

    def conversion(self, keep: set[int], period: Period) -> list[dict[str, Any]]:
        start, end = period_instants(period.start, period.end)
        entries: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
        for t in self.transitions:  # every entry (stays do not depend on dispatch)
            if t["contact_id"] in keep:
                entries[(t["contact_id"], self.stage_key[t["to_stage_id"]])].append(t["at"])
        out = []
        for here, nxt in itertools.pairwise(PATH):
            entered, took = 0, []
            for cid in keep:
                if not entries.get((cid, here)):
                    continue
                first = entries[(cid, here)][0]  # sorted by (at, id)
                if not start <= first < end:
                    continue
                entered += 1
                later = [at for at in entries.get((cid, nxt), []) if at >= first]
                if later:
                    took.append(days_between(first, min(later)))
            out.append(
                {
                    "from": here,
                    "to": nxt,
                    "entered": entered,
                    "converted": len(took),
                    "rate": round(len(took) / entered, 4) if entered else None,
                    "median_days": r3(pct_cont(took, 0.5)),
                    "p90_days": r3(pct_cont(took, 0.9)),
                }
            )
        return out

    def stays(self, keep: set[int]) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
        by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for t in self.transitions:
            if t["contact_id"] in keep:
                by_contact[t["contact_id"]].append(t)
        out = []
        for moves in by_contact.values():
            for i, t in enumerate(moves):
                left = moves[i + 1]["at"] if i + 1 < len(moves) else None
                out.append((self.stage_key[t["to_stage_id"]], t["at"], left))
        return out

    def time_in_stage(self, keep: set[int], period: Period, now: dt.datetime) -> list[Any]:
        start, end = period_instants(period.start, period.end)
        stays = self.stays(keep)
        out = []
        for key in ORDER:
            ended = [days_between(a, b) for k, a, b in stays if k == key and b and start <= b < end]
            still = [days_between(a, now) for k, a, b in stays if k == key and b is None]
            out.append(
                {
                    "stage": key,
                    "ended": len(ended),
                    "median_days": r3(pct_cont(ended, 0.5)),
                    "p90_days": r3(pct_cont(ended, 0.9)),
                    "histogram": {
                        (f"{lo}-{hi}d" if hi else f"{lo}d+"): sum(
                            1 for d in ended if d >= lo and (hi is None or d < hi)
                        )
                        for lo, hi in HISTOGRAM
                    },
                    "current": len(still),
                    "current_median_days": r3(pct_cont(still, 0.5)),
                }
            )
        return out

    # purchases
