"""The customer figures defined over the raw rows: revenue, cohorts, churn,
acquisition, lifetime value and the overview."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from analytics.figures.common import Period
from lifecycle.models import ContactStage
from tests.analytics.reference_base import (
    TZ,
    bucket_list,
    bucket_of,
    money,
    month_start,
    months_apart,
    next_month,
    period_instants,
)
from tests.analytics.reference_stages import RawStages


class RawCustomers(RawStages):
    def is_purchase(self, e: dict[str, Any]) -> bool:
        return e["name"] in self.ws.purchase_event_names and e["revenue"] is not None

    def purchases(self, keep: set[int]) -> list[dict[str, Any]]:
        return [e for e in self.events if e["contact_id"] in keep and self.is_purchase(e)]

    def first_purchase(self, cid: int) -> dt.datetime | None:
        times = [e["occurred_at"] for e in self.purchases({cid})]
        return min(times) if times else None

    def revenue_metrics(self, keep: set[int], period: Period) -> dict[str, Any]:
        start, end = period_instants(period.start, period.end)
        days: dict[int, set[dt.date]] = defaultdict(set)
        revenue = Decimal(0)
        count = 0
        for e in self.purchases(keep):
            if start <= e["occurred_at"] < end:
                days[e["contact_id"]].add(e["occurred_at"].astimezone(TZ).date())
                revenue += e["revenue"]
                count += 1
        customers = len(days)
        orders = sum(len(d) for d in days.values())
        # active: any event on one of the period's local days
        active = {
            e["contact_id"]
            for e in self.events
            if e["contact_id"] in keep
            and period.start <= e["occurred_at"].astimezone(TZ).date() <= period.end
        }
        return {
            "customers": customers,
            "orders": orders,
            "purchases": count,
            "revenue": money(revenue),
            "average_order_value": money(revenue / orders) if orders else None,
            "purchase_frequency": round(orders / customers, 4) if customers else None,
            "repeat_purchase_rate": round(
                sum(1 for d in days.values() if len(d) >= 2) / customers, 4
            )
            if customers
            else None,
            "active_contacts": len(active),
            "arpu": money(revenue / len(active)) if active else None,
        }

    def cohorts(
        self, keep: set[int], first: dt.date, last: dt.date, basis: str
    ) -> list[dict[str, Any]]:
        members: dict[dt.date, set[int]] = defaultdict(set)
        for cid in keep:
            if basis == "signup":
                cohort: dt.date | None = self.signup_month(cid)
            else:
                fp = self.first_purchase(cid)
                cohort = month_start(fp.astimezone(TZ).date()) if fp else None
            if cohort is not None and first <= cohort <= last:
                members[cohort].add(cid)
        out = []
        for cohort in sorted(members):
            ids = members[cohort]
            months = []
            for offset in range(months_apart(cohort, month_start(last)) + 1):
                m = cohort
                for _ in range(offset):
                    m = next_month(m)
                in_month = [
                    e
                    for e in self.events
                    if e["contact_id"] in ids
                    and month_start(e["occurred_at"].astimezone(TZ).date()) == m
                ]
                active = {e["contact_id"] for e in in_month}
                bought = [e for e in in_month if self.is_purchase(e)]
                buyers = {e["contact_id"] for e in bought}
                months.append(
                    {
                        "offset": offset,
                        "active": len(active),
                        "purchasing": len(buyers),
                        "revenue": money(sum((e["revenue"] for e in bought), Decimal(0))),
                        "active_share": round(len(active) / len(ids), 4),
                        "purchasing_share": round(len(buyers) / len(ids), 4),
                    }
                )
            out.append({"cohort": cohort.isoformat()[:7], "size": len(ids), "months": months})
        return out

    def churn(self, keep: set[int], period: Period, granularity: str) -> list[dict[str, Any]]:
        out = []
        for bucket in bucket_list(period.start, period.end, granularity):
            first = max(bucket, period.start)
            if granularity == "month":
                last = next_month(bucket) - dt.timedelta(days=1)
            else:
                last = bucket + dt.timedelta(days=6 if granularity == "week" else 0)
            last = min(last, period.end)
            start_instant = period_instants(first, last)[0]
            before = first - dt.timedelta(days=1)
            where: dict[int, str] = {}
            for t in self.moves(keep):
                if t["at"].astimezone(TZ).date() <= before:
                    where[t["contact_id"]] = self.stage_key[t["to_stage_id"]]
            customers = sum(
                1
                for cid in keep
                if (fp := self.first_purchase(cid)) is not None
                and fp < start_instant
                and where.get(cid) != "lapsed"
            )
            churned = sum(
                1
                for t in self.moves_in(keep, first, last)
                if self.stage_key[t["to_stage_id"]] == "lapsed"
            )
            out.append(
                {
                    "bucket": bucket.isoformat(),
                    "customers_at_start": customers,
                    "churned": churned,
                    "churn_rate": round(churned / customers, 4) if customers > 0 else None,
                    "at_risk_at_end": self.stage_on(keep, last).get("at_risk", 0),
                }
            )
        return out

    def acquisition(
        self,
        keep: set[int],
        period: Period,
        granularity: str,
        with_spend: bool,
        spend_source: str | None = None,
    ) -> list[dict[str, Any]]:
        start, end = period_instants(period.start, period.end)
        table: dict[tuple[dt.date, str], dict[str, Any]] = {}

        def cell(bucket: dt.date, source: str) -> dict[str, Any]:
            return table.setdefault(
                (bucket, source),
                {"new": 0, "customers": 0, "spend": None},
            )

        for cid in keep:
            signed_up = self.contacts[cid]["signed_up_at"]
            if start <= signed_up < end:
                cell(bucket_of(signed_up.astimezone(TZ).date(), granularity), self.source(cid))[
                    "new"
                ] += 1
            fp = self.first_purchase(cid)
            if fp is not None and start <= fp < end:
                cell(bucket_of(fp.astimezone(TZ).date(), granularity), self.source(cid))[
                    "customers"
                ] += 1
        if with_spend and granularity == "month":
            for s in self.spend:
                if month_start(period.start) <= s["month"] <= period.end and (
                    spend_source is None or s["source"] == spend_source
                ):
                    entry = cell(s["month"], s["source"])
                    entry["spend"] = (entry["spend"] or Decimal(0)) + s["amount"]
        return [
            {
                "bucket": b.isoformat(),
                "source": src,
                "new_contacts": v["new"],
                "new_customers": v["customers"],
                "spend": money(v["spend"]) if v["spend"] is not None else None,
                "cac": money(v["spend"] / v["customers"])
                if v["spend"] is not None and v["customers"]
                else None,
            }
            for (b, src), v in sorted(table.items())
        ]

    def clv_historic(self, keep: set[int]) -> dict[str, Any]:
        current = {
            cs.contact_id: cs.stage.key
            for cs in ContactStage.objects.filter(workspace=self.ws).select_related("stage")
        }
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        for e in self.purchases(keep):
            revenue[e["contact_id"]] += e["revenue"]

        def row(key: str, label: str, ids: list[int]) -> dict[str, Any]:
            total = sum((revenue[i] for i in ids), Decimal(0))
            return {
                key: label,
                "customers": len(ids),
                "revenue": money(total),
                "revenue_per_customer": money(total / len(ids)),
            }

        by_cohort: dict[str, list[int]] = defaultdict(list)
        by_stage: dict[str, list[int]] = defaultdict(list)
        for cid in revenue:
            by_cohort[self.signup_month(cid).isoformat()[:7]].append(cid)
            if cid in current:
                by_stage[current[cid]].append(cid)
        total = sum(revenue.values(), Decimal(0))
        return {
            "customers": len(revenue),
            "revenue": money(total),
            "revenue_per_customer": money(total / len(revenue)) if revenue else None,
            "by_cohort": [row("cohort", k, by_cohort[k]) for k in sorted(by_cohort)],
            "by_stage": [row("stage", k, by_stage[k]) for k in sorted(by_stage)],
        }

    def period_figures(self, keep: set[int], period: Period) -> dict[str, Any]:
        start, end = period_instants(period.start, period.end)
        newcomers = {c for c in keep if start <= self.contacts[c]["signed_up_at"] < end}
        bought = {
            c for c in keep if (fp := self.first_purchase(c)) is not None and start <= fp < end
        }
        new_contacts, new_customers = len(newcomers), len(bought)
        before = period.start - dt.timedelta(days=1)
        where: dict[int, str] = {}
        for t in self.moves(keep):
            if t["at"].astimezone(TZ).date() <= before:
                where[t["contact_id"]] = self.stage_key[t["to_stage_id"]]
        churned = sum(
            1
            for t in self.transitions
            if t["contact_id"] in keep
            and self.stage_key[t["to_stage_id"]] == "lapsed"
            and start <= t["at"] < end
        )
        customers_at_start = sum(
            1
            for c in keep
            if (fp := self.first_purchase(c)) is not None
            and fp < start
            and where.get(c) != "lapsed"
        )
        money_figures = self.revenue_metrics(keep, period)
        return {
            "contacts": sum(self.stage_on(keep, period.end).values()),
            "new_contacts": new_contacts,
            "new_customers": new_customers,
            # of the period's new contacts, those who also first bought in it
            "first_purchase_rate": round(len(newcomers & bought) / new_contacts, 4)
            if new_contacts
            else None,
            "churned": churned,
            "churn_rate": round(churned / customers_at_start, 4) if customers_at_start else None,
            **{
                k: money_figures[k]
                for k in (
                    "revenue",
                    "orders",
                    "average_order_value",
                    "repeat_purchase_rate",
                    "purchase_frequency",
                    "arpu",
                )
            },
        }

    def overview(self, keep: set[int], period: Period) -> dict[str, Any]:
        now = self.period_figures(keep, period)
        days = (period.end - period.start).days + 1
        prev_period = Period(
            period.start - dt.timedelta(days=days), period.start - dt.timedelta(days=1)
        )
        then = self.period_figures(keep, prev_period)

        def change(a: Any, b: Any) -> float | None:
            if a is None or b is None or Decimal(str(b)) == 0:
                return None
            return round(float((Decimal(str(a)) - Decimal(str(b))) / abs(Decimal(str(b)))), 4)

        def new(a: Any, b: Any) -> bool:
            return a is not None and Decimal(str(a)) != 0 and (b is None or Decimal(str(b)) == 0)

        return {
            k: {
                "value": v,
                "previous": then[k],
                "change": change(v, then[k]),
                "new": new(v, then[k]),
            }
            for k, v in now.items()
        }


# evaluation order of the default stages (the default one last)
