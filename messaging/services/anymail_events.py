"""django-anymail's tracking webhooks (`/anymail/<esp>/tracking/`, anymail's own views,
secured by ANYMAIL["WEBHOOK_SECRET"]) fed into the same service as `/hooks/email/`:
each normalised AnymailTrackingEvent becomes one of our events, matched to a Message by
the ESP's message id and recorded once under (anymail-<esp>, event id)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from messaging.providers.base import WORKSPACE_METADATA
from messaging.services.webhooks import email_events_apply

# anymail's event type -> (our kind, bounce type); others (queued, sent, subscribed,
# autoresponded, unknown…) are not applied.
KINDS: dict[str, tuple[str, str]] = {
    "delivered": ("delivered", ""),
    "bounced": ("bounced", "hard"),
    "rejected": ("bounced", "hard"),
    "deferred": ("bounced", "soft"),
    "complained": ("complained", ""),
    "opened": ("opened", ""),
    "clicked": ("clicked", ""),
    "unsubscribed": ("unsubscribed", ""),
    "failed": ("failed", ""),
}


def _event_id(esp_name: str, event: Any) -> str:
    if event.event_id:
        return str(event.event_id)
    # No id from the ESP (e.g. Postmark's deliveries and opens): the same event, sent
    # again, hashes the same.
    fields = [
        esp_name,
        event.event_type,
        event.message_id,
        event.recipient,
        event.timestamp.isoformat() if event.timestamp else None,
        event.description,
        event.mta_response,
        event.click_url,
        event.user_agent,
    ]
    digest = hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()
    return f"sha256:{digest}"


def anymail_tracking_received(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    kind, bounce_type = KINDS.get(str(event.event_type), ("", ""))
    if not kind or not event.message_id:
        return
    email_events_apply(
        provider=f"anymail-{esp_name.lower()}"[:32],
        events=[
            {
                "id": _event_id(esp_name, event),
                "type": kind,
                "message_id": str(event.message_id),
                "bounce_type": bounce_type,
                "description": event.description or event.mta_response or "",
                "url": event.click_url or "",
                "user_agent": event.user_agent or "",
                "anymail_event_type": str(event.event_type),
                # Our send's metadata, echoed by the ESP (providers/smtp.py).
                "workspace_id": (event.metadata or {}).get(WORKSPACE_METADATA, ""),
            }
        ],
    )
