"""Saved views of the contacts list: a name for a set of filters and a sort. A view is
its creator's own unless shared with the team (HubSpot's "private / everyone" choice
for saved views); every member sees their own views and the shared ones."""

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
    # Shown to every member of the workspace, not only to its creator.
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "contacts"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "created_by", "name"], name="saved_view_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name
