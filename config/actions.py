"""The API's status actions (schedule, pause, resume, cancel of a broadcast or a
journey): one POST view class per action, made by `status_action_view`, so each
resource only names its service, how to find the object and how to show it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import ERRORS


def status_action_view(
    *,
    noun: str,
    operation: str,
    service: Callable[..., Any],
    description: str,
    serializer: Any,
    get: Callable[[Any, Any], Any],
    show: Callable[[Any, int], dict[str, Any]],
) -> type[APIView]:
    """A view whose POST finds the object with `get(request, id)` (404 if it is not
    the workspace's), calls `service(<noun>=object, actor=request.actor)` (a 409 when
    the object's status does not allow it) and answers `show(request, object.pk)`."""

    class ActionView(APIView):
        @extend_schema(
            operation_id=operation,
            description=description,
            request=None,
            responses={
                200: serializer,
                409: OpenApiResponse(description="Not allowed in the current status"),
                **ERRORS,
            },
        )
        def post(self, request: Request, **ids: int) -> Response:
            (pk,) = ids.values()
            obj = get(request, pk)
            service(**{noun: obj, "actor": request.actor})  # type: ignore[attr-defined]
            return Response(show(request, obj.pk))

    ActionView.__name__ = f"{noun.title()}{operation.split('_')[-1].title()}View"
    return ActionView
