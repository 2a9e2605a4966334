"""Reads of contacts and events shared by the dashboard, the API and analytics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from contacts.models import (
    ConsentChange,
    Contact,
    ContactSearchVector,
    Event,
    EventSummary,
    ImportJob,
    ImportRowError,
    Segment,
)
from contacts.panels import CONTACT_COLUMNS
from contacts.rules import contacts_matching, matching_count
from workspaces.models import Workspace


def contacts_for_workspace(*, workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.filter(workspace=workspace)


def contacts_search(
    *,
    workspace: Workspace,
    q: str = "",
    email: str | None = None,
    external_id: str | None = None,
    email_status: str | None = None,
    sms_status: str | None = None,
    updated_since: dt.datetime | None = None,
) -> QuerySet[Contact]:
    """Contacts matching the filters. Text search matches word prefixes in the email,
    names and external id through a full-text index (fast at 1M contacts); a text
    starting with + searches phone numbers."""
    queryset = contacts_for_workspace(workspace=workspace)
    # PostgreSQL text cannot hold NUL; such a filter simply matches nothing it contains.
    q = q.replace("\x00", "")
    email = email.replace("\x00", "") if email else email
    external_id = external_id.replace("\x00", "") if external_id else external_id
    if email:
        queryset = queryset.filter(email=email.strip().lower())
    if external_id:
        queryset = queryset.filter(external_id=external_id)
    if email_status:
        queryset = queryset.filter(email_status=email_status)
    if sms_status:
        queryset = queryset.filter(sms_status=sms_status)
    if updated_since:
        queryset = queryset.filter(updated_at__gte=updated_since)
    text = q.strip()
    if text:
        if text.startswith("+") and text[1:].isdigit():
            queryset = queryset.filter(phone__startswith=text)
        else:
            queryset = queryset.filter(Q(external_id=text) | Q(search_matches(text)))
    return queryset


MAX_ID = 2**63 - 1


def search_matches(text: str) -> RawSQL:
    """Every word of `text` is a prefix of a word of the contact (email, names,
    external id). The text is split by PostgreSQL's own parser, the same one that built
    the index, and each word is quoted, so no input can break the query."""
    vector = ContactSearchVector(table="contacts_contact").template % {
        "table": '"contacts_contact".'
    }
    return RawSQL(  # noqa: S611 - fixed SQL; the text is a bound parameter
        f"{vector} @@ (SELECT to_tsquery('simple', string_agg(quote_literal(lexeme) "
        "|| ':*', ' & ')) FROM unnest(to_tsvector('simple', %s)))",
        [text[:200]],
        output_field=BooleanField(),
    )


def contact_get(*, workspace: Workspace, contact_id: Any) -> Contact | None:
    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Contact.objects.filter(workspace=workspace, pk=pk).first()


def events_for_contact(*, contact: Contact) -> QuerySet[Event]:
    return Event.objects.filter(contact=contact).order_by("-occurred_at", "-id")


def event_names_for_contact(*, contact: Contact) -> list[tuple[str, int]]:
    """The event names a contact has, with how many of each, most frequent first (from
    the per-contact summaries, not a scan of its events)."""
    return list(
        EventSummary.objects.filter(workspace_id=contact.workspace_id, contact=contact)
        .order_by("-count", "name")
        .values_list("name", "count")
    )


def consent_history(*, contact: Contact) -> QuerySet[ConsentChange]:
    return ConsentChange.objects.filter(contact=contact).order_by("-created_at", "-id")


def imports_for_workspace(*, workspace: Workspace) -> QuerySet[ImportJob]:
    return (
        ImportJob.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("-created_at")
    )


def segments_for_workspace(*, workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.filter(workspace=workspace).order_by("name")


def segment_get(*, workspace: Workspace, segment_id: Any) -> Segment | None:
    try:
        pk = int(segment_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Segment.objects.filter(workspace=workspace, pk=pk).first()


def event_names(*, workspace: Workspace) -> list[str]:
    """The event names seen in a workspace, from the summaries' index without reading
    every row (a "loose index scan": one index probe per distinct name)."""

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE names AS (
                (SELECT name FROM contacts_eventsummary WHERE workspace_id = %(ws)s
                 ORDER BY name LIMIT 1)
                UNION ALL
                SELECT (SELECT s.name FROM contacts_eventsummary s
                        WHERE s.workspace_id = %(ws)s AND s.name > names.name
                        ORDER BY s.name LIMIT 1)
                FROM names WHERE names.name IS NOT NULL
            )
            SELECT name FROM names WHERE name IS NOT NULL LIMIT 500
            """,
            {"ws": workspace.pk},
        )
        return [row[0] for row in cursor.fetchall()]


def attribute_names(*, workspace: Workspace, sample: int = 5000) -> list[str]:
    """Attribute names used by the workspace's newest contacts (a sample: reading
    every contact's attributes at 1M contacts would take seconds)."""

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT jsonb_object_keys(attributes) FROM (
                SELECT attributes FROM contacts_contact WHERE workspace_id = %s
                ORDER BY id DESC LIMIT %s
            ) recent ORDER BY 1
            """,
            [workspace.pk, sample],
        )
        return [row[0] for row in cursor.fetchall()]


def import_errors(*, job: ImportJob) -> QuerySet[ImportRowError]:
    return ImportRowError.objects.filter(job=job).order_by("row_number")


def contact_list_filters(params: Mapping[str, str]) -> dict[str, str]:
    """The contacts list's filters from a query string (the page's, or the one a
    background export was asked with): search, statuses, the columns later apps add."""
    keys = ("q", "email_status", "sms_status", *(c.key for c in CONTACT_COLUMNS))
    # PostgreSQL text cannot hold NUL: such a value matches what it would without it.
    return {key: params.get(key, "").replace("\x00", "") for key in keys}


def contacts_listed(*, workspace: Workspace, filters: Mapping[str, str]) -> QuerySet[Contact]:
    """The contacts the list shows (and exports) for `contact_list_filters`."""
    queryset = contacts_search(
        workspace=workspace,
        q=filters.get("q", ""),
        email_status=filters.get("email_status") or None,
        sms_status=filters.get("sms_status") or None,
    )
    for column in CONTACT_COLUMNS:
        if filters.get(column.key):
            queryset = column.filter(queryset, workspace, filters[column.key])
    return queryset


def segment_member_ids_sql(segment: Segment) -> tuple[str, list[Any]]:
    """SQL selecting the ids of the segment's contacts, with its parameters: the
    stored members when they follow the current rule (an index probe), else the rule
    evaluated live, which is the definition (a new or just edited segment, until a
    worker has built its members: never a wrong answer, only a slower one)."""
    if segment.members_ready:
        return (
            "SELECT contact_id FROM contacts_segmentmember "
            "WHERE workspace_id = %s AND segment_id = %s",
            [segment.workspace_id, segment.pk],
        )
    sql, params = (
        contacts_matching(segment.rule, workspace=segment.workspace, validate=False)
        .values("id")
        .query.sql_with_params()
    )
    return sql, list(params)


def segment_count(segment: Segment) -> int:
    """How many contacts the segment has: its stored count when ready, else live."""
    if segment.members_ready:
        return segment.member_count
    return matching_count(
        contacts_matching(segment.rule, workspace=segment.workspace, validate=False)
    )
