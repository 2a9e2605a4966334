"""Dashboard pages for the analytics reports: one page per report in `REPORTS` (figures,
chart, table view and CSV download), the marketing spend page and the CLV refit.

The figures come from `analytics.reports` only; this module parses nothing itself and
adds presentation (labels, formats, which way is good) and access control."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from analytics.figures.stages import funnel_path
from analytics.models import CohortCell, Spend
from analytics.report_cache import figures
from analytics.report_query import Query
from analytics.reports import REPORTS, Report, Table
from analytics.services.clv_refits import clv_refit_request, clv_refit_status
from analytics.services.spend import spend_delete, spend_set
from analytics.views_loyalty import loyalty_cards
from config.errors import DomainError
from config.spreadsheet import csv_writer
from contacts.selectors import segments_for_workspace
from lifecycle.selectors import stages_for_workspace
from workspaces.dashboard import WorkspaceRequest, workspace_view

# Which filter fields each report's form shows (the others would be ignored).
PERIOD = ("start", "end")
FILTERS = ("segment", "source", "signup_month")
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "overview": (*PERIOD, *FILTERS),
    "funnel": (*PERIOD, "granularity", "as_of", *FILTERS),
    "flow": (*PERIOD, *FILTERS),
    "conversion": (*PERIOD, *FILTERS),
    "time-in-stage": (*PERIOD, *FILTERS),
    "cohorts": (*PERIOD, "basis", *FILTERS),
    "churn": (*PERIOD, "granularity", *FILTERS),
    "acquisition": (*PERIOD, "granularity", *FILTERS),
    "clv": FILTERS,
    "messages": (*PERIOD, *FILTERS),
    "loyalty": (*PERIOD, "granularity"),
}

# Overview key figures: label, format, and whether a rise is good news.
FIGURES: dict[str, tuple[str, str, bool]] = {
    "contacts": ("Contacts", "count", True),
    "new_contacts": ("New contacts", "count", True),
    "new_customers": ("New customers", "count", True),
    "first_purchase_rate": ("New customers per new contact", "percent", True),
    "churned": ("Churned", "count", False),
    "churn_rate": ("Churn rate", "percent", False),
    "revenue": ("Revenue", "money", True),
    "orders": ("Orders", "count", True),
    "average_order_value": ("Average order value", "money", True),
    "repeat_purchase_rate": ("Repeat purchase rate", "percent", True),
    "purchase_frequency": ("Orders per customer", "decimal", True),
    "arpu": ("Revenue per active contact", "money", True),
}

REVENUE_FIGURES: dict[str, tuple[str, str]] = {
    "customers": ("Customers", "count"),
    "orders": ("Orders", "count"),
    "purchases": ("Purchases", "count"),
    "revenue": ("Revenue", "money"),
    "average_order_value": ("Average order value", "money"),
    "purchase_frequency": ("Orders per customer", "decimal"),
    "repeat_purchase_rate": ("Repeat purchase rate", "percent"),
    "active_contacts": ("Active contacts", "count"),
    "arpu": ("Revenue per active contact", "money"),
}


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind == "money":
        return f"{Decimal(str(value)):,.2f}"
    if kind == "decimal":
        return f"{float(value):,.2f}"
    if kind == "count":
        return f"{int(value):,}"
    return str(value)


def _column_kind(column: str) -> str:
    if column.endswith(("rate", "share")) or column == "mean_probability_alive":
        return "percent"
    return ""


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "—"
    kind = _column_kind(column)
    if kind:
        return _format(value, kind)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def _display_tables(tables: list[Table]) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "title": t.title,
            "columns": [c.replace("_", " ") for c in t.columns],
            "rows": [[_cell(c, v) for c, v in zip(t.columns, row, strict=True)] for row in t.rows],
        }
        for t in tables
    ]


def _cards(figures: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    cards = []
    for key, (label, kind, rise_is_good) in FIGURES.items():
        figure = figures.get(key)
        if figure is None:
            continue
        change = figure["change"]
        tone = ""
        if change:
            tone = "good" if (change > 0) == rise_is_good else "bad"
        cards.append(
            {
                "key": key,
                "label": label,
                "value": _format(figure["value"], kind),
                "previous": _format(figure["previous"], kind),
                # Up from nothing: a percentage of 0 means nothing, so it says "new".
                "change": "new"
                if figure.get("new")
                else None
                if change is None
                else f"{abs(change) * 100:.1f}%",
                "arrow": "▲" if change and change > 0 else "▼" if change and change < 0 else "",
                "tone": tone,
            }
        )
    return cards


def _survey_cards(figures: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """NPS (points, with its 95% interval) and CSAT (%) over the period, with the change
    in points against the period before; only for kinds the workspace has surveys of."""
    cards = []
    for key, label in (("nps", "NPS"), ("csat", "CSAT (% of 4-5)")):
        figure = figures.get(key)
        if not figure or not figure["surveys"]:
            continue
        value, change = figure["value"], figure["change_points"]
        unit = "" if key == "nps" else "%"
        interval = ""
        if key == "nps" and figure["nps_low"] is not None:
            interval = f"{figure['nps_low']:.1f} to {figure['nps_high']:.1f}"
        cards.append(
            {
                "key": key,
                "label": label,
                "value": "—" if value is None else f"{value:.1f}{unit}",
                "answers": figure["answers"],
                "interval": interval,
                "change": None if change is None else f"{abs(change):.1f} pts",
                "arrow": "▲" if change and change > 0 else "▼" if change and change < 0 else "",
                "tone": "" if not change else "good" if change > 0 else "bad",
                "previous": "—"
                if figure["previous"] is None
                else f"{figure['previous']:.1f}{unit}",
            }
        )
    return cards


def _sources(request: WorkspaceRequest) -> list[str]:
    # The cohort rollup has a row per (cohort, month, source): far fewer rows than the
    # per-contact facts, so listing its sources stays quick at a million contacts.
    return list(
        CohortCell.objects.filter(workspace=request.workspace, basis=CohortCell.Basis.SIGNUP)
        .exclude(source="")
        .values_list("source", flat=True)
        .distinct()
        .order_by("source")
    )


def _stages(request: WorkspaceRequest) -> list[dict[str, str]]:
    """The stages in funnel order for chart labels: the forward path (the default stage
    first), then the churn stages."""
    forward = funnel_path(request.workspace)
    keys = {s.key for s in forward}
    every = list(stages_for_workspace(workspace=request.workspace))
    rest = [s for s in reversed(every) if s.key not in keys]
    return [{"key": s.key, "name": s.name, "colour": s.colour} for s in [*forward, *rest]]


def _form_values(request: WorkspaceRequest, query: Query | None) -> dict[str, str]:
    values = {key: request.GET.get(key, "") for key in (*PERIOD, "granularity", "as_of", "basis")}
    values |= {key: request.GET.get(key, "") for key in FILTERS}
    if query is not None:
        values["start"] = query.period.start.isoformat()
        values["end"] = query.period.end.isoformat()
        values["granularity"] = query.granularity
        values["basis"] = query.basis
        values["as_of"] = request.GET.get("as_of") or query.as_of.isoformat()
    return values


def _csv_response(request: WorkspaceRequest, report: Report, query: Query, table: Table) -> Any:
    filename = (
        f"{request.workspace.slug}-{report.key}-{table.name}-"
        f"{query.period.start.isoformat()}-{query.period.end.isoformat()}.csv"
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv_writer(response)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(row)
    return response


@workspace_view()
def report_page(request: WorkspaceRequest, key: str = "overview") -> HttpResponse:
    report = REPORTS.get(key)
    if report is None:
        raise Http404("No such report.")
    context: dict[str, Any] = {
        "report": report,
        "reports": list(REPORTS.values()),
        "fields": FORM_FIELDS[report.key],
        "segments": list(segments_for_workspace(workspace=request.workspace)),
        "sources": _sources(request),
        "errors": {},
        "error": None,
        "data": None,
    }
    try:
        query = report.query(request.GET, workspace=request.workspace)
        data = figures(report, query)
    except DomainError as exc:
        values = _form_values(request, None)
        context |= {"error": exc.message, "errors": exc.fields, "values": values}
        return render(request, "analytics/report.html", context, status=400)
    tables = report.tables(data)
    if request.GET.get("download") == "csv":
        table = next((t for t in tables if t.name == request.GET.get("table")), None)
        if table is None:
            raise Http404("No such table.")
        return _csv_response(request, report, query, table)
    params = request.GET.copy()
    params.pop("download", None)
    params.pop("table", None)
    context |= {
        "values": _form_values(request, query),
        "data": data,
        "meta": {
            "report": report.key,
            "stages": _stages(request),
            "currency": request.workspace.currency,
        },
        "tables": _display_tables(tables),
        "querystring": params.urlencode(),
        "query": query,
        "computed_at": parse_datetime(data["computed_at"]),
    }
    if report.key == "overview":
        context["cards"] = _cards(data["figures"])
        context["survey_cards"] = _survey_cards(data["surveys"])
        context["can_rebuild"] = request.membership.can_admin
    if report.key == "overview" or report.key == "loyalty":
        context["loyalty_cards"] = loyalty_cards(workspace=request.workspace, data=data)
    if report.key == "churn":
        context["revenue_cards"] = [
            {"label": label, "value": _format(data["revenue"].get(k), kind)}
            for k, (label, kind) in REVENUE_FIGURES.items()
        ]
    if report.key == "clv":
        context["can_refit"] = request.membership.can_write
    return render(request, "analytics/report.html", context)


@workspace_view()  # first: an outsider gets 404 whatever the method
@require_POST
def clv_refit(request: WorkspaceRequest) -> HttpResponse:
    """Queue a refit of BG/NBD + Gamma-Gamma on the purchases up to today; the CLV
    page shows its progress (clv_refit_status_panel) until it is applied."""
    clv_refit_request(workspace=request.workspace, requested_by=request.user.get_username())
    url = reverse(
        "analytics:analytics-report", kwargs={"slug": request.workspace.slug, "key": "clv"}
    )
    querystring = QueryDict(request.POST.get("querystring", "")).urlencode()
    return redirect(f"{url}?{querystring}" if querystring else url)


@workspace_view()
def clv_refit_status_panel(request: WorkspaceRequest) -> HttpResponse:
    """The CLV page's live status of a refit (htmx polls it while one runs)."""
    refit = clv_refit_status(workspace=request.workspace)
    running = refit is not None and refit.finished_at is None
    response = render(
        request,
        "analytics/_clv_refit.html",
        {"refit": refit, "running": running, "now": timezone.now()},
    )
    if not running and request.GET.get("poll"):
        response["HX-Refresh"] = "true"  # it finished while polled: show the new model
    return response


@workspace_view()
def spend_list(request: WorkspaceRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    values = {"source": "", "month": "", "amount": ""}
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in values}
        try:
            spend, created = spend_set(
                workspace=request.workspace, data=values, actor=request.actor
            )
            verb = "added" if created else "replaced"
            messages.success(request, f"Spend {verb}: {spend.source}, {spend.month:%Y-%m}.")
            return redirect("analytics:analytics-spend", slug=request.workspace.slug)
        except DomainError as exc:
            errors = exc.fields or {"form": [exc.message]}
    rows = Spend.objects.filter(workspace=request.workspace).order_by("-month", "source")
    return render(
        request,
        "analytics/spend.html",
        {
            "rows": rows,
            "values": values,
            "errors": errors,
            "sources": _sources(request),
            "reports": list(REPORTS.values()),
        },
    )


@workspace_view()  # first: an outsider gets 404 whatever the method
@require_POST
def spend_remove(request: WorkspaceRequest, spend_id: int) -> HttpResponse:
    spend = Spend.objects.filter(workspace=request.workspace, pk=spend_id).first()
    if spend is None:
        raise Http404("No such spend.")
    spend_delete(spend=spend, actor=request.actor)
    messages.success(request, f"Spend removed: {spend.source}, {spend.month:%Y-%m}.")
    return redirect("analytics:analytics-spend", slug=request.workspace.slug)
