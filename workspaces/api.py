from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.api_auth import ApiRequest
from workspaces.models import Workspace


class WorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "time_zone", "currency", "created_at"]


class WorkspaceView(APIView):
    @extend_schema(
        operation_id="workspace_retrieve",
        description="The workspace the API key belongs to.",
        responses={200: WorkspaceSerializer},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(WorkspaceSerializer(request.workspace).data)
