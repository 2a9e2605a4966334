"""Provider webhooks. Each verifies its signature and refuses (403) without a
configured secret; production refuses to start without one (config/settings.py)."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from messaging.services.webhooks import (
    email_events_apply,
    signature_valid,
    twilio_inbound_apply,
    twilio_status_apply,
)


def _forbidden() -> JsonResponse:
    return JsonResponse({"error": {"code": "forbidden", "message": "Bad signature."}}, status=403)


@csrf_exempt
@require_POST
def email_events(request: HttpRequest) -> HttpResponse:
    if not signature_valid(
        secret=settings.EMAIL_WEBHOOK_SECRET,
        body=request.body,
        signature=request.headers.get("X-Stagecraft-Signature", ""),
    ):
        return _forbidden()
    try:
        body = json.loads(request.body)
        events = body["events"] if isinstance(body, dict) else body
        if not isinstance(events, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JsonResponse(
            {"error": {"code": "invalid", "message": "Expected events."}}, status=400
        )
    result = email_events_apply(provider=settings.MESSAGING_EMAIL_PROVIDER, events=events)
    return JsonResponse(
        {"processed": result.processed, "duplicates": result.duplicates, "unknown": result.unknown}
    )


def _twilio_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    # Twilio signs the URL it was configured with: ours, as BASE_URL spells it.
    url = settings.BASE_URL + request.get_full_path()
    return bool(RequestValidator(token).validate(url, request.POST.dict(), signature))


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _twilio_valid(request):
        return _forbidden()
    # `ws`: the workspace our send named in the callback URL (signed by Twilio with
    # it); callbacks of messages sent before it carried one have none.
    raw = request.GET.get("ws", "")
    workspace_id = int(raw) if raw.isdigit() and len(raw) < 19 else None
    twilio_status_apply(params=request.POST.dict(), workspace_id=workspace_id)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _twilio_valid(request):
        return _forbidden()
    answer = twilio_inbound_apply(params=request.POST.dict())
    message = f"<Message>{escape(answer.reply)}</Message>" if answer.reply else ""
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>',
        content_type="application/xml",
    )
