"""Reporting settings over the API: `/api/v1/settings/reporting/`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import AnalyticsSettings
from analytics.services.reporting_settings import (
    reporting_settings_get,
    reporting_settings_update,
)
from config.api import request_object
from config.errors import InvalidInput
from config.openapi import ERRORS, described

FIELDS = ("churned_stage_key", "at_risk_stage_key", "source_attribute")


class ReportingSettingsSerializer(serializers.Serializer[Any]):
    churned_stage_key = serializers.CharField(
        help_text="The key of the churned stage (a stage of this workspace)"
    )
    at_risk_stage_key = serializers.CharField(
        help_text="The key of the at-risk stage (another stage of this workspace)"
    )
    source_attribute = described(
        {
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
            "description": "The contact attribute naming the acquisition source",
        }
    )


def _public(settings: AnalyticsSettings) -> dict[str, Any]:
    return {key: getattr(settings, key) for key in FIELDS}


class ReportingSettingsView(APIView):
    @extend_schema(
        operation_id="settings_reporting_retrieve",
        responses={200: ReportingSettingsSerializer, **ERRORS},
    )
    def get(self, request: Any) -> Response:
        return Response(_public(reporting_settings_get(workspace=request.workspace)))

    @extend_schema(
        operation_id="settings_reporting_update",
        description="Which stages count as churned and at risk, and the source attribute.",
        request=ReportingSettingsSerializer(partial=True),
        responses={200: ReportingSettingsSerializer, **ERRORS},
    )
    def patch(self, request: Any) -> Response:
        data = request_object(request.data)
        errors = {key: ["unknown field"] for key in data if key not in FIELDS}
        errors.update(
            {
                key: ["must be a string"]
                for key in FIELDS
                if key in data and not isinstance(data[key], str)
            }
        )
        if errors:
            raise InvalidInput("The reporting settings are not valid.", fields=errors)
        settings = reporting_settings_update(
            workspace=request.workspace,
            actor=request.actor,
            **{k: data[k] for k in FIELDS if k in data},
        )
        return Response(_public(settings))
