"""REST API v1 for CSV imports: upload (with or without a mapping), start, progress and
the rejected rows with their row numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import request_object
from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from config.pagination import (
    KeysetPagination,
    ResultsList,
    keyset_response,
)
from config.parsers import parse_json
from contacts import selectors, serializers, services
from contacts.models import ImportJob
from workspaces.api_auth import ApiRequest


def _import_or_404(request: ApiRequest, import_id: Any) -> ImportJob:
    job = selectors.imports_for_workspace(workspace=request.workspace).filter(pk=import_id).first()
    if job is None:
        raise NotFound("No such import.")
    return job


class ImportListView(APIView):
    pagination_class = ResultsList
    # The CSV comes as a multipart upload; nothing else is accepted here.
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="imports_list",
        responses={200: serializers.ImportJobSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        jobs = selectors.imports_for_workspace(workspace=request.workspace)[:100]
        return Response({"results": serializers.ImportJobSerializer(jobs, many=True).data})

    @extend_schema(
        operation_id="imports_create",
        description="Upload a CSV (multipart, field `file`) of contacts, or with "
        "`kind=stage_history` of known stage moves. With `mapping` (JSON) the "
        "import starts at once; without, the job waits in status `mapping` with the "
        "file's headers and a suggested mapping, to be started with /start/.",
        request={"multipart/form-data": serializers.ImportCreateSerializer},
        responses={201: serializers.ImportJobSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Attach the CSV as `file`.", fields={"file": ["is required"]})
        form = cast(Mapping[str, Any], request.data)
        # request.data holds the form's fields and its files. Everything is checked
        # before the upload is stored.
        unknown = sorted(set(form) - {"file", "kind", "mapping", "match_on"})
        if unknown:
            raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
        if form.get("match_on", "email") not in ImportJob.MatchOn.values:
            # Checked with or without a mapping: a value that is never used is still wrong.
            raise InvalidInput(
                "match_on is not valid.",
                fields={"match_on": [f"one of {', '.join(ImportJob.MatchOn.values)}"]},
            )
        job = services.import_job_create(
            workspace=request.workspace,
            upload=upload,
            actor=request.actor,
            kind=str(form.get("kind") or "contacts"),
        )
        if "mapping" in form:
            mapping = _json_field(form.get("mapping"), "mapping")
            job = services.import_job_start(
                job=job,
                mapping=mapping,
                match_on=form.get("match_on", "email"),
                actor=request.actor,
            )
        return Response(serializers.ImportJobSerializer(job).data, status=201)


def _json_field(value: Any, name: str) -> Any:
    """A form field holding JSON (the upload's mapping), parsed as strictly as a body."""
    if isinstance(value, str):
        try:
            return parse_json(value.encode())
        except exceptions.ParseError:
            raise InvalidInput(f"{name} is not JSON.", fields={name: ["is not JSON"]}) from None
    return value


class ImportDetailView(APIView):
    @extend_schema(
        operation_id="imports_retrieve", responses={200: serializers.ImportJobSerializer, **ERRORS}
    )
    def get(self, request: ApiRequest, import_id: int) -> Response:
        return Response(serializers.ImportJobSerializer(_import_or_404(request, import_id)).data)


class ImportStartView(APIView):
    @extend_schema(
        operation_id="imports_start",
        request=serializers.ImportStartSerializer,
        responses={
            200: serializers.ImportJobSerializer,
            409: OpenApiResponse(description="The import has already started"),
            **ERRORS,
        },
    )
    def post(self, request: ApiRequest, import_id: int) -> Response:
        job = _import_or_404(request, import_id)
        body = request_object(request.data)
        unknown = sorted(set(body) - {"mapping", "match_on"})
        if unknown:
            raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
        job = services.import_job_start(
            job=job,
            mapping=_json_field(body.get("mapping"), "mapping"),
            match_on=body.get("match_on", "email"),
            actor=request.actor,
        )
        return Response(serializers.ImportJobSerializer(job).data)


class ImportErrorsView(APIView):
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="imports_errors",
        responses={200: serializers.ImportRowErrorSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest, import_id: int) -> Response:
        job = _import_or_404(request, import_id)
        return keyset_response(
            request,
            selectors.import_errors(job=job),
            keys=["row_number", "id"],
            item=lambda row: serializers.ImportRowErrorSerializer(row).data,
        )
