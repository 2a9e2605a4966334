"""REST API v1 for consent: a contact's consent history, and the workspace's as CSV
(what a regulator or a data-protection request asks for)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFound
from config.openapi import ERRORS
from config.pagination import ResultsList
from config.spreadsheet import csv_writer
from contacts import selectors as contact_selectors
from contacts.models import ConsentChange
from workspaces.api_auth import ApiRequest


class ConsentChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentChange
        fields = ["id", "contact", "channel", "status", "source", "created_at"]
        read_only_fields = fields


class ContactConsentView(APIView):
    pagination_class = ResultsList

    @extend_schema(
        operation_id="contacts_consent_history",
        description="Every consent change of a contact, newest first: when, channel, "
        "the new status and its source (api, import, unsubscribe_page, one_click, "
        "sms_keyword:stop, provider bounces, ...).",
        responses={200: ConsentChangeSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, contact_id: int) -> Response:
        contact = contact_selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        rows = contact_selectors.consent_history(contact=contact)
        return Response({"results": [ConsentChangeSerializer(c).data for c in rows]})


def _consent_csv(workspace_id: int) -> Iterator[str]:
    writer = csv_writer()
    yield writer.writerow(["at", "contact_id", "email", "phone", "channel", "status", "source"])
    rows = (
        ConsentChange.objects.filter(workspace_id=workspace_id)
        .select_related("contact")
        .order_by("id")
    )
    for change in rows.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                change.created_at.isoformat(),
                change.contact_id,
                change.contact.email,
                change.contact.phone,
                change.channel,
                change.status,
                change.source,
            ]
        )


class ConsentExportView(APIView):
    @extend_schema(
        operation_id="consent_export",
        description="The workspace's consent history as CSV (when, contact, channel, "
        "status, source). An erased contact's history goes with it.",
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: ApiRequest) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            _consent_csv(request.workspace.pk), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="consent-history.csv"'
        return response
