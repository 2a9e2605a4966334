"""A Postmark-style HTTP JSON batch API: POST a list of messages, get one result per
message back. Each message carries its idempotency key (our message uuid) and the
request an Idempotency-Key header derived from them, for providers that dedupe."""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from messaging.providers.base import OnResult, Outgoing, Result

BATCH_LIMIT = 500
# Postmark's per-message error codes that mean "this recipient, never".
INVALID_RECIPIENT_CODES = {300, 406}
_session = requests.Session()


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def _payload(item: Outgoing) -> dict[str, Any]:
    return {
        "From": item.from_address,
        "To": item.to,
        "Subject": item.subject,
        "HtmlBody": item.html,
        "TextBody": item.text,
        "ReplyTo": item.reply_to or None,
        "MessageStream": "broadcast",
        "Headers": [{"Name": k, "Value": v} for k, v in item.headers.items()],
        "Metadata": {"message_uuid": item.uuid},
        "IdempotencyKey": item.uuid,
    }


class HttpEmailProvider:
    name = "http"
    answers_per_batch = True

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None:
        for start in range(0, len(batch), BATCH_LIMIT):
            self._send_batch(batch[start : start + BATCH_LIMIT], on_result)

    def _send_batch(self, batch: list[Outgoing], on_result: OnResult) -> None:
        key = hashlib.sha256(",".join(item.uuid for item in batch).encode()).hexdigest()
        try:
            response = _session.post(
                settings.EMAIL_HTTP_URL,
                json=[_payload(item) for item in batch],
                headers={
                    "Accept": "application/json",
                    "X-Postmark-Server-Token": settings.EMAIL_HTTP_TOKEN,
                    "Idempotency-Key": key,
                },
                timeout=(5, 30),
            )
        except requests.RequestException as exc:
            for item in batch:
                on_result(item, Result(ok=False, transient=True, error=f"{type(exc).__name__}"))
            return
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            for item in batch:
                on_result(
                    item,
                    Result(
                        ok=False,
                        transient=True,
                        retry_after=wait,
                        error=f"HTTP {response.status_code}",
                    ),
                )
            return
        if response.status_code >= 400:
            for item in batch:
                on_result(item, Result(ok=False, error=f"HTTP {response.status_code}"))
            return
        answers = response.json()
        for item, answer in zip(batch, answers, strict=True):
            code = int(answer.get("ErrorCode", 0))
            if code == 0:
                on_result(item, Result(ok=True, provider_message_id=str(answer["MessageID"])))
            else:
                on_result(
                    item,
                    Result(
                        ok=False,
                        error=f"{code}: {answer.get('Message', '')}"[:500],
                        invalid_recipient=code in INVALID_RECIPIENT_CODES,
                    ),
                )
