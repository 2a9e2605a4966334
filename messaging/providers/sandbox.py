"""The sandbox provider: records what would have been sent, sends nothing."""

from __future__ import annotations

from messaging.models import SandboxDelivery
from messaging.providers.base import OnResult, Outgoing, Result


class SandboxProvider:
    name = "sandbox"
    answers_per_batch = True

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None:
        # Like a provider honouring an idempotency key: the same message is recorded once.
        SandboxDelivery.objects.bulk_create(
            [
                SandboxDelivery(
                    workspace_id=item.workspace_id,
                    message_id=item.message_id,
                    message_uuid=item.uuid,
                    channel=item.channel,
                    to_address=item.to,
                    from_address=item.from_address,
                    subject=item.subject,
                    body_html=item.html,
                    body_text=item.text,
                    headers=item.headers,
                )
                for item in batch
            ],
            ignore_conflicts=True,
        )
        for item in batch:
            on_result(item, Result(ok=True, provider_message_id=f"sandbox-{item.uuid}"))
