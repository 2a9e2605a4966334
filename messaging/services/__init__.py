"""Every write messaging makes goes through these functions."""

from messaging.services.messages import Enqueued, message_enqueue, messages_enqueue_bulk
from messaging.services.templates import (
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
