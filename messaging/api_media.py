"""REST API v1 for the workspace's media: images for email content (the block
editor's image blocks use their URL). Upload (multipart, field `file`), list, read,
delete. The type is sniffed from the bytes and the size bounded by the service
(messaging/services/media.py); a refusal is a 400 naming `file` and the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import InvalidInput, NotFound
from config.openapi import ERRORS
from config.pagination import KeysetPagination, keyset_response
from messaging import selectors
from messaging.models import MEDIA_TYPES, MediaFile
from messaging.services.media import (
    MAX_MEDIA_BYTES,
    media_file_create,
    media_file_delete,
    media_url,
)
from workspaces.api_auth import ApiRequest


class MediaFileSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField(help_text="public, unguessable: what an image block's src is")
    content_type = serializers.ChoiceField(choices=list(MEDIA_TYPES), help_text="sniffed")
    size = serializers.IntegerField(help_text="bytes")
    name = serializers.CharField(help_text="the uploaded file's name, as it came")
    created_at = serializers.DateTimeField()


class MediaUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text=f"a PNG, JPEG, GIF or WebP image of at most {MAX_MEDIA_BYTES // 1048576} MB"
    )


def _media_dict(media: MediaFile) -> dict[str, Any]:
    return {
        "id": media.pk,
        "url": media_url(media),
        "content_type": media.content_type,
        "size": media.size,
        "name": media.original_name,
        "created_at": media.created_at,
    }


def _media_or_404(request: ApiRequest, media_id: int) -> MediaFile:
    media = selectors.media_file_get(workspace=request.workspace, media_id=media_id)
    if media is None:
        raise NotFound("No such media file.")
    return media


class MediaListView(APIView):
    pagination_class = KeysetPagination
    # The image comes as a multipart upload; nothing else is accepted here.
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="media_list",
        description="The workspace's images, newest first.",
        responses={200: MediaFileSerializer(many=True), **ERRORS},
    )
    def get(self, request: ApiRequest) -> Response:
        queryset = selectors.media_files_for_workspace(workspace=request.workspace)
        return keyset_response(request, queryset, keys=["-id"], item=_media_dict)

    @extend_schema(
        operation_id="media_create",
        description="Upload an image (multipart, field `file`). Its type is read from its "
        "bytes, not its name or the declared type: anything but PNG, JPEG, GIF or WebP, an "
        "empty file or one over the size limit is a 400 naming `file` and the reason.",
        request={"multipart/form-data": MediaUploadSerializer},
        responses={201: MediaFileSerializer, **ERRORS},
    )
    def post(self, request: ApiRequest) -> Response:
        form = cast(Mapping[str, Any], request.data)
        unknown = sorted(set(form) - {"file"})
        if unknown:
            raise InvalidInput("Unknown fields.", fields={k: ["unknown field"] for k in unknown})
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                "Attach the image as `file`.", fields={"file": ["is required, as a file"]}
            )
        media = media_file_create(workspace=request.workspace, upload=upload, actor=request.actor)
        return Response(_media_dict(media), status=status.HTTP_201_CREATED)


class MediaDetailView(APIView):
    @extend_schema(operation_id="media_retrieve", responses={200: MediaFileSerializer, **ERRORS})
    def get(self, request: ApiRequest, media_id: int) -> Response:
        return Response(_media_dict(_media_or_404(request, media_id)))

    @extend_schema(
        operation_id="media_destroy",
        description="Deletes the image and its file: emails that show it show a broken "
        "image from then on.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: ApiRequest, media_id: int) -> Response:
        media_file_delete(media=_media_or_404(request, media_id), actor=request.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
