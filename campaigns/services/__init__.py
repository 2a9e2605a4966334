"""Every write messaging makes goes through these functions."""

from campaigns.services.messages import Enqueued, message_enqueue, messages_enqueue_bulk
from campaigns.services.templates import (
    template_create,
    template_delete,
    template_errors,
    template_update,
)

__all__ = [
    "Enqueued",
    "message_enqueue",
    "messages_enqueue_bulk",
    "template_create",
    "template_delete",
    "template_errors",
    "template_update",
]
