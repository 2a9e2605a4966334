"""Public endpoints reached from inside messages: the open pixel, click redirects and
the unsubscribe / preference page, and images uploaded for email content. No login;
the signed (or unguessable) token is the authority."""

from __future__ import annotations

import base64

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from contacts.models import EmailStatus
from messaging import tokens
from messaging.models import MediaFile, Message
from messaging.services.tracking import (
    message_resubscribe,
    message_unsubscribe,
    tracking_record_click,
    tracking_record_open,
)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def is_prefetch(request: HttpRequest) -> bool:
    purpose = (
        request.headers.get("Purpose", "")
        + request.headers.get("Sec-Purpose", "")
        + request.headers.get("X-Moz", "")
        + request.headers.get("X-Purpose", "")
    ).lower()
    return "prefetch" in purpose or "preview" in purpose


def _message(kind: str, token: str) -> tuple[Message, int] | None:
    """The message a token names, read within the token's workspace (one shard on
    Citus); an old token without one is read by the message's id alone."""
    ref = tokens.read_short_token(token) if kind == "short" else tokens.read_token(kind, token)
    if ref is None:
        return None
    rows = Message.objects.select_related("contact").filter(pk=ref.message_id)
    if ref.workspace_id is not None:
        rows = rows.filter(workspace_id=ref.workspace_id)
    message = rows.first()
    return (message, ref.index) if message else None


@never_cache
@require_http_methods(["GET", "HEAD"])
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    found = _message("open", token)
    if found is not None and request.method == "GET":
        tracking_record_open(
            message=found[0],
            user_agent=request.headers.get("User-Agent", ""),
            prefetch=is_prefetch(request),
        )
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_http_methods(["GET", "HEAD"])
def track_click(request: HttpRequest, token: str, kind: str = "click") -> HttpResponse:
    found = _message(kind, token)
    if found is None:
        raise Http404("Unknown link.")
    message, index = found
    url = tracking_record_click(
        message=message,
        index=index,
        user_agent=request.headers.get("User-Agent", ""),
        prefetch=is_prefetch(request) or request.method == "HEAD",
    )
    if url is None:
        raise Http404("Unknown link.")
    return HttpResponseRedirect(url)


@never_cache
@require_http_methods(["GET", "HEAD"])
def track_short_click(request: HttpRequest, token: str) -> HttpResponse:
    """An SMS's short link: the same click, recorded and redirected."""
    return track_click(request, token, kind="short")


# The token is the authority, and RFC 8058 one-click POSTs carry no cookies, so there
# is no session for CSRF to protect; a forged POST would need the signed token.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = _message("unsubscribe", token)
    if found is None or found[0].contact is None:
        raise Http404("Unknown link.")
    message = found[0]
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") == "One-Click":
            message_unsubscribe(message=message, source="one_click")
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        if request.POST.get("action") == "resubscribe":
            message_resubscribe(message=message)
        else:
            message_unsubscribe(message=message, source="unsubscribe_page")
    contact = message.contact
    assert contact is not None
    contact.refresh_from_db(fields=["email_status"])
    return render(
        request,
        "messaging/unsubscribe.html",
        {
            "token": token,
            "email": contact.email,
            "workspace_name": message.workspace.name,
            "subscribed": contact.email_status == EmailStatus.SUBSCRIBED,
            "can_resubscribe": contact.email_status == EmailStatus.UNSUBSCRIBED,
            "done": request.method == "POST",
        },
    )


def media_file(request: HttpRequest, workspace_id: int, name: str) -> FileResponse:
    """An image uploaded for email content: public (mail clients load it without a
    session), found only by its unguessable token."""
    token, _, _ext = name.partition(".")
    media = MediaFile.objects.filter(workspace_id=workspace_id, token=token).first()
    if media is None:
        raise Http404("No such file.")
    response = FileResponse(media.file.open("rb"), content_type=media.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
