"""Opens, clicks and unsubscribes that come back through signed links."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from contacts.models import Channel, EmailStatus
from contacts.services import consent_set, contacts_mark_changed
from messaging.models import Message, TrackingEvent

# Link scanners, security gateways and crawlers that fetch links nobody clicked.
BOT_USER_AGENTS = re.compile(
    r"bot\b|spider|crawl|slurp|barracuda|mimecast|proofpoint|urldefense|safelinks|"
    r"microsoft office protection|forcepoint|symantec|trendmicro|fireeye|cisco|"
    r"python-requests|python-urllib|curl/|wget/|go-http-client|okhttp|headlesschrome|"
    r"facebookexternalhit|slackbot|preview",
    re.IGNORECASE,
)
# A click this soon after sending is a scanner following every link, not a person.
BOT_CLICK_SECONDS = 10


def is_bot(user_agent: str, *, prefetch: bool) -> bool:
    return prefetch or not user_agent.strip() or bool(BOT_USER_AGENTS.search(user_agent))


@transaction.atomic
def tracking_record_open(*, message: Message, user_agent: str, prefetch: bool) -> TrackingEvent:
    bot = is_bot(user_agent, prefetch=prefetch)
    event = TrackingEvent.objects.create(
        workspace_id=message.workspace_id,
        message=message,
        kind=TrackingEvent.Kind.OPEN,
        user_agent=user_agent[:500],
        is_bot=bot,
    )
    if not bot:
        first = Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(
            opened_at=event.created_at
        )
        _engaged(message, first)
    return event


def _engaged(message: Message, changed: int) -> None:
    """A first open or click changes what engagement conditions ("opened in the last
    30 days") say of the contact: mark it, so its segments and stage follow."""
    if changed and message.contact_id is not None:
        contacts_mark_changed(contact_ids=[message.contact_id])


@transaction.atomic
def tracking_record_click(
    *, message: Message, index: int, user_agent: str, prefetch: bool
) -> str | None:
    """Record a click and return where it leads: only a URL stored for this message."""
    links = message.links or []
    if not 0 <= index < len(links):
        return None
    url = str(links[index])
    now = timezone.now()
    too_soon = message.sent_at is not None and now - message.sent_at < timedelta(
        seconds=BOT_CLICK_SECONDS
    )
    bot = is_bot(user_agent, prefetch=prefetch) or too_soon
    TrackingEvent.objects.create(
        workspace_id=message.workspace_id,
        message=message,
        kind=TrackingEvent.Kind.CLICK,
        url=url,
        user_agent=user_agent[:500],
        is_bot=bot,
        source="link",
        created_at=now,
    )
    if not bot:
        first = Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(
            clicked_at=now
        )
        # A click proves an open even when images were blocked.
        Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=now)
        _engaged(message, first)
    return url


@transaction.atomic
def message_unsubscribe(*, message: Message, source: str) -> bool:
    """Unsubscribe the message's contact from email; True if that changed anything.
    Messages already queued are suppressed when a worker re-checks consent."""
    if message.contact is None:
        return False
    changed = consent_set(
        contact=message.contact,
        channel=Channel.EMAIL,
        status=EmailStatus.UNSUBSCRIBED,
        source=source,
    )
    if changed:
        Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
    return changed


@transaction.atomic
def message_resubscribe(*, message: Message) -> bool:
    """Undo an unsubscribe from the preference page (never a bounce or complaint)."""
    contact = message.contact
    if contact is None or contact.email_status != EmailStatus.UNSUBSCRIBED:
        return False
    return consent_set(
        contact=contact,
        channel=Channel.EMAIL,
        status=EmailStatus.SUBSCRIBED,
        source="preference_page",
    )
