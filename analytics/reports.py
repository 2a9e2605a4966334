"""The analytics reports: request parameters into a figure, the figure into tables. The
API returns `compute`'s dict; the dashboard draws it and shows its `tables`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics.figures import campaigns, clv, cohorts, customers, loyalty, overview, stages, surveys
from analytics.figures.clv_sums import sums_taken_at
from analytics.models import ClvModel
from analytics.report_query import Query, parse_query
from analytics.services.clv import clv_model_applied, clv_model_current
from workspaces.models import Workspace


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    description: str
    compute: Callable[[Query], dict[str, Any]]
    tables: Callable[[dict[str, Any]], list[Table]]
    default_days: int = 90
    default_granularity: str = "week"
    contact_filters: bool = True  # False: refused (400) and not offered by the API

    def query(self, params: Any, *, workspace: Workspace) -> Query:
        return parse_query(
            params,
            workspace=workspace,
            default_days=self.default_days,
            default_granularity=self.default_granularity,
        )


def _rows(items: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[item.get(column) for column in columns] for item in items]


def _table(name: str, title: str, items: list[dict[str, Any]], columns: list[str]) -> Table:
    return Table(name, title, columns, _rows(items, columns))


# --- overview -------------------------------------------------------------------------


def _overview(q: Query) -> dict[str, Any]:
    return {
        "figures": overview.overview(workspace=q.workspace, period=q.period, filters=q.filters),
        "funnel": stages.funnel(workspace=q.workspace, as_of=q.period.end, filters=q.filters),
        "flow": stages.flow(workspace=q.workspace, period=q.period, filters=q.filters),
        "surveys": surveys.survey_overview(
            workspace=q.workspace, period=q.period, filters=q.filters
        ),
    }


def _overview_tables(data: dict[str, Any]) -> list[Table]:
    figures = [{"figure": key, **value} for key, value in data["figures"].items()]
    return [
        _table("figures", "Key figures", figures, ["figure", "value", "previous", "change"]),
        _table("funnel", "Contacts per stage", data["funnel"], ["stage", "name", "contacts"]),
        _table("flow", "Moves between stages", data["flow"], ["from", "to", "moves"]),
        _table(
            "surveys",
            "NPS and CSAT (every survey of the kind)",
            [{"figure": key, **value} for key, value in data["surveys"].items()],
            ["figure", "value", "answers", "nps_low", "nps_high", "previous", "change_points"],
        ),
    ]


# --- stages ---------------------------------------------------------------------------


def _funnel(q: Query) -> dict[str, Any]:
    return {
        "as_of": q.as_of.isoformat(),
        "stages": stages.funnel(workspace=q.workspace, as_of=q.as_of, filters=q.filters),
        "movement": stages.movement(
            workspace=q.workspace, period=q.period, granularity=q.granularity, filters=q.filters
        ),
    }


def _funnel_tables(data: dict[str, Any]) -> list[Table]:
    return [
        _table(
            "stages",
            f"Contacts per stage on {data['as_of']}",
            data["stages"],
            ["stage", "name", "contacts"],
        ),
        _table(
            "movement",
            "Entries and exits",
            data["movement"],
            ["bucket", "stage", "entries", "exits"],
        ),
    ]


def _flow(q: Query) -> dict[str, Any]:
    return {
        "stages": [
            {"stage": s["stage"], "name": s["name"], "colour": s["colour"]}
            for s in stages.funnel(workspace=q.workspace, as_of=q.period.end)
        ],
        "transitions": stages.flow(workspace=q.workspace, period=q.period, filters=q.filters),
    }


def _flow_tables(data: dict[str, Any]) -> list[Table]:
    return [
        _table("transitions", "Moves between stages", data["transitions"], ["from", "to", "moves"])
    ]


def _conversion(q: Query) -> dict[str, Any]:
    return {"steps": stages.conversion(workspace=q.workspace, period=q.period, filters=q.filters)}


def _conversion_tables(data: dict[str, Any]) -> list[Table]:
    columns = ["from", "to", "entered", "converted", "rate", "median_days", "p90_days"]
    return [_table("steps", "Conversion between consecutive stages", data["steps"], columns)]


def _time_in_stage(q: Query) -> dict[str, Any]:
    return {
        "stages": stages.time_in_stage(workspace=q.workspace, period=q.period, filters=q.filters)
    }


def _time_in_stage_tables(data: dict[str, Any]) -> list[Table]:
    rows = data["stages"]
    labels = list(rows[0]["histogram"]) if rows else []
    flat = [{**row, **{f"ended {k}": v for k, v in row["histogram"].items()}} for row in rows]
    columns = ["stage", "name", "ended", "median_days", "p90_days"]
    columns += [f"ended {label}" for label in labels] + ["current", "current_median_days"]
    return [_table("stages", "Time in stage (days)", flat, columns)]


# --- customers ------------------------------------------------------------------------


def _cohorts(q: Query) -> dict[str, Any]:
    return {
        "basis": q.basis,
        "cohorts": cohorts.cohorts(
            workspace=q.workspace,
            start_month=q.period.start.replace(day=1),
            end_month=q.period.end.replace(day=1),
            basis=q.basis,
            filters=q.filters,
        ),
    }


def _cohorts_tables(data: dict[str, Any]) -> list[Table]:
    long = [
        {"cohort": c["cohort"], "size": c["size"], **month}
        for c in data["cohorts"]
        for month in c["months"]
    ]
    columns = ["cohort", "size", "offset", "active", "active_share", "purchasing"]
    columns += ["purchasing_share", "revenue"]
    return [_table("cohorts", "Retention by cohort and month since", long, columns)]


def _churn(q: Query) -> dict[str, Any]:
    return {
        "periods": customers.churn(
            workspace=q.workspace, period=q.period, granularity=q.granularity, filters=q.filters
        ),
        "revenue": customers.revenue_metrics(
            workspace=q.workspace, period=q.period, filters=q.filters
        ),
    }


def _churn_tables(data: dict[str, Any]) -> list[Table]:
    columns = ["bucket", "customers_at_start", "churned", "churn_rate", "at_risk_at_end"]
    revenue = [{"figure": key, "value": value} for key, value in data["revenue"].items()]
    return [
        _table("periods", "Churn and at risk", data["periods"], columns),
        _table("revenue", "Purchases in the period", revenue, ["figure", "value"]),
    ]


def _acquisition(q: Query) -> dict[str, Any]:
    return {
        "rows": customers.acquisition(
            workspace=q.workspace, period=q.period, granularity=q.granularity, filters=q.filters
        )
    }


def _acquisition_tables(data: dict[str, Any]) -> list[Table]:
    columns = ["bucket", "source", "new_contacts", "new_customers", "spend", "cac"]
    return [_table("rows", "New contacts and customers by source", data["rows"], columns)]


def model_to_dict(model: ClvModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {
        "id": model.pk,
        "as_of": model.as_of.isoformat(),
        "r": model.r,
        "alpha": model.alpha,
        "a": model.a,
        "b": model.b,
        "p": model.p,
        "q": model.q,
        "gamma": model.gamma,
        "log_likelihood": model.log_likelihood,
        "gamma_gamma_log_likelihood": model.gamma_gamma_log_likelihood,
        "customers": model.customers,
        "repeat_customers": model.repeat_customers,
        "horizon_weeks": model.horizon_weeks,
        "fit_seconds": model.fit_seconds,
        "fitted_at": model.fitted_at.isoformat(),
        "applied": model.applied,
        "holdout": model.holdout,
        "spend_model": model.spend_model,
        "spend_model_reason": model.spend_model_reason,
        "population_mean_order": None
        if model.population_mean_order is None
        else str(model.population_mean_order),
        "backtest": model.backtest,
    }


def _clv(q: Query) -> dict[str, Any]:
    taken = sums_taken_at(q.workspace.pk, q.filters)  # when read from the CLV sums
    return {
        "data_as_of": taken.isoformat() if taken else None,
        "historic": clv.clv_historic(workspace=q.workspace, filters=q.filters),
        "predicted": clv.clv_predicted(workspace=q.workspace, filters=q.filters),
        "model": model_to_dict(clv_model_applied(workspace=q.workspace)),
        "latest_fit": model_to_dict(clv_model_current(workspace=q.workspace)),
    }


def _messages(q: Query) -> dict[str, Any]:
    return {
        "stages": campaigns.stage_message_volume(
            workspace=q.workspace, period=q.period, filters=q.filters
        )
    }


def _messages_tables(data: dict[str, Any]) -> list[Table]:
    return [
        _table(
            "stages", "Messages sent by stage", data["stages"], ["stage", "name", "email", "sms"]
        )
    ]


def _clv_tables(data: dict[str, Any]) -> list[Table]:
    money = ["customers", "revenue", "revenue_per_customer"]
    predicted = ["stage", "customers", "predicted_revenue", "predicted_clv_per_customer"]
    predicted += ["probably_gone", "mean_probability_alive", "bought_once"]
    return [
        _table(
            "by_cohort",
            "Revenue to date by signup cohort",
            data["historic"]["by_cohort"],
            ["cohort", *money],
        ),
        _table(
            "by_stage", "Revenue to date by stage", data["historic"]["by_stage"], ["stage", *money]
        ),
        _table(
            "predicted", "Predicted 12-month CLV by stage", data["predicted"]["by_stage"], predicted
        ),
        _table(
            "histogram",
            "Customers by predicted CLV",
            data["predicted"]["histogram"],
            ["from", "to", "customers"],
        ),
        _table(
            "backtest",
            "Backtest: predicted and actual purchases since the holdout began",
            ((data["model"] or {}).get("backtest") or {}).get("groups", []),
            ["repeat_purchases", "customers", "predicted_purchases", "actual_purchases"],
        ),
    ]


REPORTS: dict[str, Report] = {
    report.key: report
    for report in [
        Report(
            "overview",
            "Overview",
            "Key figures with the change against the period before, the stage funnel "
            "at the end of the period and who moved where.",
            _overview,
            _overview_tables,
        ),
        Report(
            "funnel",
            "Stage funnel",
            "Contacts in each stage on a date (as_of, by default the end of the period) "
            "and entries and exits per stage per day, week or month.",
            _funnel,
            _funnel_tables,
        ),
        Report(
            "flow",
            "Stage flow",
            "Who moved from which stage to which in the period; from null is a first entry.",
            _flow,
            _flow_tables,
        ),
        Report(
            "conversion",
            "Conversion",
            "Of the contacts who first entered a stage in the period, how many went on to "
            "the next stage of the funnel, and the median and p90 days it took.",
            _conversion,
            _conversion_tables,
        ),
        Report(
            "time-in-stage",
            "Time in stage",
            "Stays that ended in the period (median, p90, distribution) and stays open now.",
            _time_in_stage,
            _time_in_stage_tables,
        ),
        Report(
            "cohorts",
            "Cohorts",
            "Retention by signup (or first purchase) month: the share of each cohort active "
            "and purchasing in each later month.",
            _cohorts,
            _cohorts_tables,
            default_days=365,
            default_granularity="month",
        ),
        Report(
            "churn",
            "Churn and revenue",
            "Customers at the start of each bucket, how many churned and were at risk; "
            "orders, revenue, AOV, purchase frequency, repeat purchase rate and ARPU.",
            _churn,
            _churn_tables,
            default_granularity="month",
            default_days=365,
        ),
        Report(
            "acquisition",
            "Acquisition",
            "New contacts and first-time customers by source; spend and CAC where spend "
            "is entered (monthly buckets).",
            _acquisition,
            _acquisition_tables,
            default_granularity="month",
            default_days=365,
        ),
        Report(
            "messages",
            "Messages by stage",
            "Email and SMS messages sent in the period, by the stage each contact was in "
            "when it was sent: how much each stage of the lifecycle is being contacted.",
            _messages,
            _messages_tables,
        ),
        Report(
            "clv",
            "Customer lifetime value",
            "Revenue to date per customer by cohort and stage, and the predicted 12-month "
            "CLV and probability alive of the applied BG/NBD + Gamma-Gamma fit.",
            _clv,
            _clv_tables,
        ),
        Report(
            "loyalty",
            "Loyalty",
            "Members, points issued, redeemed and expired, redemption rate, tiers, liability.",
            loyalty.loyalty_for_query,
            lambda data: [_table(*table) for table in loyalty.loyalty_tables(data)],
            contact_filters=False,
        ),
    ]
}
