"""Segments (saved rules) and their stored membership."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from workspaces.models import User, Workspace


class Segment(models.Model):
    """A saved rule. Its members are kept in SegmentMember (contacts/services/
    segment_members.py); until the first build of the current rule has finished
    (`members_ready` false) every reader evaluates the rule live instead."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    rule = models.JSONField()
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The stored members follow the current rule (a full build of it has finished).
    members_ready = models.BooleanField(default=False, db_default=False)
    # When the last full build or periodic re-evaluation of the members finished.
    members_refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="segment_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A contact that matched a segment's rule when it was last evaluated for it.

    Derived data: the rule evaluated live stays the definition, and a full build
    recomputes these rows from it at any time. The primary key (workspace, segment,
    contact) is the index the analytics filters probe."""

    pk = models.CompositePrimaryKey("workspace", "segment", "contact")
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    segment = TenantForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Indexed on its own: an erased contact's rows go by contact id.
    contact = TenantForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"contact {self.contact_id} in segment {self.segment_id}"
