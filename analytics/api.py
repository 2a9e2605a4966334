"""REST API v1 for analytics: one GET endpoint per report (all taking the same period and
filter parameters), the CLV model (read and refit), and marketing spend for CAC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.figures.campaigns import campaign_performance, journey_performance
from analytics.models import Spend
from analytics.report_cache import figures
from analytics.reports import REPORTS, Report, model_to_dict
from analytics.services.clv import clv_fit, clv_model_current
from analytics.services.spend import spend_delete, spend_set
from campaigns.models import Broadcast, Journey
from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS, described, text
from config.pagination import ResultsList
from config.query import (
    QueryParam,
    date_param,
    enum_param,
    id_param,
    openapi,
    query_values,
    text_param,
)
from workspaces.api_auth import ApiRequest

PERIOD_PARAMETERS = [
    date_param("start", "first local day (default: per report)"),
    date_param("end", "last local day (default: today); at most ten years after start"),
    enum_param(
        "granularity",
        ["day", "week", "month"],
        "buckets (default: per report); a period may have at most 750 (about two years by day)",
    ),
]
CONTACT_FILTERS = [
    id_param("segment", "only the contacts of this segment (its id)"),
    text_param("source", "only contacts with this signup source"),
    QueryParam(
        "signup_month",
        {
            "type": "string",
            "pattern": "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$",
            "x-pattern-reason": "must be YYYY-MM",
        },
        "only contacts who signed up in this month, YYYY-MM",
    ),
]
PARAMETERS = PERIOD_PARAMETERS + CONTACT_FILTERS
EXTRA = {
    "funnel": [date_param("as_of", "default: end")],
    "cohorts": [enum_param("basis", ["signup", "first_purchase"], "the cohort month")],
}
CONVERSION_PARAMS = [
    QueryParam(
        "event",
        {
            "type": "string",
            "pattern": "^[^,]{0,100}(,[^,]{0,100})*$",
            "maxLength": 2000,
            "x-pattern-reason": "event names of at most 100 characters, comma-separated",
        },
        "conversion event names, comma-separated (default: the workspace's purchase names)",
    ),
    QueryParam(
        "window_days", {"type": "integer", "minimum": 1, "maximum": 90, "default": 7}, "days"
    ),
]


def report_parameters(report: Report) -> list[QueryParam]:
    """What the report takes: the period, the contact filters unless its figures are
    not kept per contact group (loyalty), and its own."""
    base = PARAMETERS if report.contact_filters else PERIOD_PARAMETERS
    return base + EXTRA.get(report.key, [])


def report_response(report: Report, request: ApiRequest) -> Response:
    query_values(request.query_params, report_parameters(report))
    query = report.query(request.query_params, workspace=request.workspace)
    data = figures(report, query)
    return Response({"report": report.key, "parameters": query.echo(), **data})


def report_view(key: str) -> type[APIView]:
    report = REPORTS[key]

    class ReportView(APIView):
        @extend_schema(
            operation_id=f"analytics_{key.replace('-', '_')}",
            summary=report.title,
            description=report.description,
            parameters=openapi(report_parameters(report)),
            responses={200: OpenApiTypes.OBJECT, **ERRORS},
            tags=["analytics"],
        )
        def get(self, request: ApiRequest) -> Response:
            return report_response(report, request)

    ReportView.__name__ = ReportView.__qualname__ = f"{key.title().replace('-', '')}ReportView"
    return ReportView


class ClvFitSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False,
        help_text="fit on the purchases up to this local day (a backtest when in the past); "
        "default today, which also applies the predictions to the contacts",
    )


class ClvModelView(APIView):
    @extend_schema(
        operation_id="analytics_clv_model",
        description="The latest BG/NBD + Gamma-Gamma fit: r, alpha, a, b, p, q, gamma, as_of, "
        "log-likelihood and fit time. 404 before the first fit.",
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest) -> Response:
        model = clv_model_current(workspace=request.workspace)
        if model is None:
            raise NotFound("No CLV model has been fitted yet; POST to fit one.")
        return Response(model_to_dict(model))

    @extend_schema(
        operation_id="analytics_clv_model_fit",
        description="Refit now on the purchases up to as_of. A past as_of is a backtest: "
        "the response's holdout compares predicted and actual purchases since.",
        request=ClvFitSerializer,
        responses={
            201: OpenApiTypes.OBJECT,
            409: OpenApiResponse(description="Not enough purchase history (not_enough_data)"),
            **ERRORS,
        },
        tags=["analytics"],
    )
    def post(self, request: ApiRequest) -> Response:
        data = request_object(request.data)
        as_of = None
        if data.get("as_of"):
            try:
                as_of = dt.date.fromisoformat(str(data["as_of"]))
            except ValueError:
                raise InvalidInput(
                    "as_of must be a date.", fields={"as_of": ["must be a date, YYYY-MM-DD"]}
                ) from None
        model = clv_fit(workspace=request.workspace, as_of=as_of)
        return Response(model_to_dict(model), status=status.HTTP_201_CREATED)


class SpendSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    source = described(text(200, blank=False), help_text="the signup source it was spent on")  # type: ignore[assignment]
    month = described(
        {"type": "string", "pattern": "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"},
        help_text="YYYY-MM",
    )
    amount = described(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
                {"type": "integer", "minimum": 0, "maximum": 999999999999},
            ]
        },
        help_text="a non-negative amount with at most 2 decimal places",
    )
    updated_at = serializers.DateTimeField(read_only=True)


def spend_to_dict(spend: Spend) -> dict[str, Any]:
    return {
        "id": spend.pk,
        "source": spend.source,
        "month": spend.month.isoformat()[:7],
        "amount": str(spend.amount),
        "updated_at": spend.updated_at.isoformat(),
    }


class SpendListView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="analytics_spend_list",
        description="Marketing spend per source and month, newest month first.",
        responses={200: SpendSerializer(many=True), **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest) -> Response:
        rows = Spend.objects.filter(workspace=request.workspace).order_by("-month", "source")
        return Response({"results": [spend_to_dict(s) for s in rows]})

    @extend_schema(
        operation_id="analytics_spend_set",
        description="Set the spend of a source in a month, replacing what was there "
        "(201 when new, 200 when replaced).",
        request=SpendSerializer,
        responses={200: SpendSerializer, 201: SpendSerializer, **ERRORS},
        tags=["analytics"],
    )
    def post(self, request: ApiRequest) -> Response:
        spend, created = spend_set(
            workspace=request.workspace, data=request_object(request.data), actor=request.actor
        )
        return Response(
            spend_to_dict(spend), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class SpendDetailView(APIView):
    def _spend(self, request: ApiRequest, spend_id: int) -> Spend:
        spend = Spend.objects.filter(workspace=request.workspace, pk=spend_id).first()
        if spend is None:
            raise NotFound("No such spend.")
        return spend

    @extend_schema(
        operation_id="analytics_spend_retrieve",
        responses={200: SpendSerializer, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest, spend_id: int) -> Response:
        return Response(spend_to_dict(self._spend(request, spend_id)))

    @extend_schema(
        operation_id="analytics_spend_delete", responses={204: None, **ERRORS}, tags=["analytics"]
    )
    def delete(self, request: ApiRequest, spend_id: int) -> Response:
        spend_delete(spend=self._spend(request, spend_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignPerformanceView(APIView):
    @extend_schema(
        operation_id="analytics_campaign_performance",
        description="What a broadcast did, in total and per A/B variant: messages, sent, "
        "delivered, bounced, failed, suppressed, opened and clicked (bot hits left out), "
        "unsubscribed, complained, converted (contacts who did a conversion event within "
        "window_days of the message, attributed last-touch) and the revenue of those "
        "events, with rates over sent.",
        parameters=openapi(CONVERSION_PARAMS),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest, broadcast_id: int) -> Response:
        broadcast = Broadcast.objects.filter(workspace=request.workspace, pk=broadcast_id).first()
        if broadcast is None:
            raise NotFound("No such campaign.")
        return Response(campaign_performance(broadcast=broadcast, **_conversion_params(request)))


def _conversion_params(request: ApiRequest) -> dict[str, Any]:
    """The arguments a performance figure takes from the request: its workspace, the
    conversion events (none: the workspace's own) and the attribution window."""
    values = query_values(request.query_params, CONVERSION_PARAMS)
    names = [n.strip() for n in values.get("event", "").split(",") if n.strip()]
    return {
        "workspace": request.workspace,
        "event_names": names or None,
        "window_days": int(values.get("window_days", 7)),
    }


class JourneyPerformanceView(APIView):
    @extend_schema(
        operation_id="analytics_journey_performance",
        description="What a journey did: per send step the same figures as a broadcast's "
        "(sent, opened, clicked, unsubscribed, converted last-touch, revenue, rates), and "
        "the journey's goal: entered, converted, and with a holdout the lift.",
        parameters=openapi(CONVERSION_PARAMS),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest, journey_id: int) -> Response:
        journey = Journey.objects.filter(workspace=request.workspace, pk=journey_id).first()
        if journey is None:
            raise NotFound("No such journey.")
        return Response(journey_performance(journey=journey, **_conversion_params(request)))
