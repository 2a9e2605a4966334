"""Saved views of the contacts list: a name for a set of filters and a sort, shared by
the workspace's members (as HubSpot's and Klaviyo's saved views are)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from workspaces.models import User, Workspace


class SavedView(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    # The list's query string without a cursor, e.g. "stage=customer&sort=updated".
    query = models.CharField(max_length=2000, blank=True, default="")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "contacts"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="saved_view_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
