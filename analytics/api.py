"""REST API v1 for analytics: one GET endpoint per report (all taking the same period and
filter parameters), the CLV model (read and refit), and marketing spend for CAC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.figures.campaigns import campaign_performance, journey_performance
from analytics.models import Spend
from analytics.reports import REPORTS, Report, figures, model_to_dict
from analytics.services.clv import clv_fit, clv_model_current
from analytics.services.spend import spend_delete, spend_set
from campaigns.models import Broadcast, Journey
from config.api import request_object
from config.errors import InvalidInput, NotFound
from contacts.api import ERRORS
from workspaces.api_auth import ApiRequest

PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="first local day (default: per report)"
    ),
    OpenApiParameter("end", OpenApiTypes.DATE, description="last local day (default: today)"),
    OpenApiParameter("granularity", str, enum=["day", "week", "month"], description="buckets"),
    OpenApiParameter("segment", int, description="only the contacts of this segment (its id)"),
    OpenApiParameter("source", str, description="only contacts with this signup source"),
    OpenApiParameter("signup_month", str, description="only contacts who signed up in YYYY-MM"),
]
EXTRA = {
    "funnel": [OpenApiParameter("as_of", OpenApiTypes.DATE, description="default: end")],
    "cohorts": [
        OpenApiParameter(
            "basis", str, enum=["signup", "first_purchase"], description="the cohort month"
        )
    ],
}


def report_response(report: Report, request: ApiRequest) -> Response:
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
            parameters=PARAMETERS + EXTRA.get(key, []),
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
    source = serializers.CharField(help_text="the signup source it was spent on")  # type: ignore[assignment]
    month = serializers.CharField(help_text="YYYY-MM")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
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
        parameters=[
            OpenApiParameter(
                "event",
                str,
                description="conversion event names, comma-separated "
                "(default: the workspace's purchase names)",
            ),
            OpenApiParameter("window_days", int, description="1-90, default 7"),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest, broadcast_id: int) -> Response:
        broadcast = Broadcast.objects.filter(workspace=request.workspace, pk=broadcast_id).first()
        if broadcast is None:
            raise NotFound("No such campaign.")
        names, window = _conversion_params(request)
        return Response(
            campaign_performance(
                workspace=request.workspace,
                broadcast=broadcast,
                event_names=names or None,
                window_days=window,
            )
        )


def _conversion_params(request: ApiRequest) -> tuple[list[str], int]:
    params = request.query_params
    names = [n.strip() for n in (params.get("event") or "").split(",") if n.strip()]
    if any(len(name) > 100 for name in names):
        raise InvalidInput(
            "Event names are too long.", fields={"event": ["at most 100 characters"]}
        )
    try:
        window = int(params.get("window_days") or 7)
    except ValueError:
        window = 0
    if not 1 <= window <= 90:
        raise InvalidInput(
            "window_days must be 1 to 90.", fields={"window_days": ["a whole number, 1 to 90"]}
        )
    return names, window


class JourneyPerformanceView(APIView):
    @extend_schema(
        operation_id="analytics_journey_performance",
        description="What a journey did: per send step the same figures as a broadcast's "
        "(sent, opened, clicked, unsubscribed, converted last-touch, revenue, rates), and "
        "the journey's goal: entered, converted, and with a holdout the lift.",
        parameters=[
            OpenApiParameter("event", str, description="conversion event names, comma-separated"),
            OpenApiParameter("window_days", int, description="1-90, default 7"),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        tags=["analytics"],
    )
    def get(self, request: ApiRequest, journey_id: int) -> Response:
        journey = Journey.objects.filter(workspace=request.workspace, pk=journey_id).first()
        if journey is None:
            raise NotFound("No such journey.")
        names, window = _conversion_params(request)
        return Response(
            journey_performance(
                workspace=request.workspace,
                journey=journey,
                event_names=names or None,
                window_days=window,
            )
        )
