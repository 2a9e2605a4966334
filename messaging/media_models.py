"""Media files: images uploaded for email content."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


def media_upload_path(instance: MediaFile, filename: str) -> str:
    # Under MEDIA_ROOT/<workspace id>/, named by the unguessable token, never by the
    # uploader's file name.
    return f"{instance.workspace_id}/{instance.token}.{MEDIA_TYPES[instance.content_type]}"


# What an email image may be (sniffed from the bytes, never taken from the upload).
MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class MediaFile(models.Model):
    """An image uploaded for email content, served publicly at /media/<workspace id>/
    <token>.<ext> (emails load it from any mail client), the token unguessable."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64)
    file = models.FileField(upload_to=media_upload_path, max_length=200)
    content_type = models.CharField(max_length=16)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "messaging"
        # Unique with the workspace (issue 20); the token first: the public address
        # names only the token.
        constraints = [
            models.UniqueConstraint(fields=["token", "workspace"], name="mediafile_token_unique")
        ]

    def __str__(self) -> str:
        return self.original_name or self.token
