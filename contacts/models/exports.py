"""A contacts export run by a worker: big workspaces take longer than a request may,
so the page shows its progress (rows written of the total) and then a download link."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


def export_upload_path(instance: ContactExport, filename: str) -> str:
    # Under MEDIA_ROOT/exports/<workspace id>/, named by the unguessable token. Nothing
    # serves that folder: the file is sent only by the download view, to members.
    return f"exports/{instance.workspace_id}/{instance.token}.csv"


class ContactExport(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # The download link's key (secrets.token_urlsafe): not guessable, not the id.
    token = models.CharField(max_length=64)
    # The contacts list's query string (filters) the export was asked with.
    query = models.CharField(max_length=2000, blank=True, default="")
    requested_by = models.CharField(max_length=254, blank=True, default="")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    rows_written = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_upload_path, max_length=200, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        app_label = "contacts"
        # Unique with the workspace (issue 20); token first, for the lookup by token.
        constraints = [
            models.UniqueConstraint(
                fields=["token", "workspace"], name="contactexport_token_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-requested_at"], name="contactexport_ws_requested")
        ]

    def __str__(self) -> str:
        return f"Contacts export {self.pk} of {self.workspace_id}"
