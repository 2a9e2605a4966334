"""SMS through Twilio (the `twilio` package). TWILIO_BASE_URL lets tests point the
client at a local stub."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from messaging.providers.base import OnResult, Outgoing, Result
from messaging.providers.http_email import retry_after_seconds

# Twilio error codes that mean the number can never receive: invalid, not mobile,
# unreachable for good, or blocked by the carrier.
INVALID_NUMBER_CODES = {21211, 21612, 21614, 21408, 21610}


class TwilioProvider:
    name = "twilio"

    def __init__(self) -> None:
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=30),
        )
        self.client.api.base_url = settings.TWILIO_BASE_URL.rstrip("/")

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None:
        status_url = settings.BASE_URL + reverse("messaging_public:twilio-status")
        for item in batch:
            # The callback names the message's workspace, so its lookup by SID reads one
            # workspace (one shard on Citus); Twilio signs the URL with its query.
            callback = f"{status_url}?ws={item.workspace_id}"
            try:
                sent = self.client.messages.create(
                    to=item.to, from_=item.from_address, body=item.text, status_callback=callback
                )
            except TwilioRestException as exc:
                transient = exc.status == 429 or exc.status >= 500
                on_result(
                    item,
                    Result(
                        ok=False,
                        transient=transient,
                        error=f"{exc.status} {exc.code}: {exc.msg}"[:500],
                        invalid_recipient=exc.code in INVALID_NUMBER_CODES,
                    ),
                )
                continue
            except OSError as exc:
                on_result(item, Result(ok=False, transient=True, error=type(exc).__name__))
                continue
            on_result(item, Result(ok=True, provider_message_id=str(sent.sid)))


__all__ = ["TwilioProvider", "retry_after_seconds"]
