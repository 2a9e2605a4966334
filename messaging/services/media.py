"""Images uploaded for email content. The type is sniffed from the bytes (a file
named .png that is not a PNG is refused), the size bounded, and the file stored
under MEDIA_ROOT/<workspace id>/ with an unguessable name."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from config.errors import InvalidInput
from messaging.models import MEDIA_TYPES, MediaFile
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

MAX_MEDIA_BYTES = 5 * 1024 * 1024


def sniff_image_type(head: bytes) -> str | None:
    """The image type its first bytes say it is: PNG, JPEG, GIF or WebP only."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def media_url(media: MediaFile) -> str:
    name = (media.file.name or "").rsplit("/", 1)[-1]
    return f"{settings.BASE_URL}/media/{media.workspace_id}/{name}"


@transaction.atomic
def media_file_create(*, workspace: Workspace, upload: UploadedFile, actor: Actor) -> MediaFile:
    size = upload.size or 0
    if size == 0:
        raise InvalidInput("file: the file is empty", fields={"file": ["the file is empty"]})
    if size > MAX_MEDIA_BYTES:
        reason = (
            f"at most {MAX_MEDIA_BYTES // (1024 * 1024)} MB (this one is {size / 1048576:.1f} MB)"
        )
        raise InvalidInput(f"file: {reason}", fields={"file": [reason]})
    upload.seek(0)
    content_type = sniff_image_type(upload.read(16))
    upload.seek(0)
    if content_type is None:
        reason = "not a PNG, JPEG, GIF or WebP image"
        raise InvalidInput(f"file: {reason}", fields={"file": [reason]})
    media = MediaFile(
        workspace=workspace,
        token=secrets.token_urlsafe(24),
        content_type=content_type,
        size=size,
        original_name=(upload.name or "")[:200],
    )
    media.file.save(f"image.{MEDIA_TYPES[content_type]}", upload, save=False)
    media.save()
    audit_record(
        workspace=workspace,
        action="media.uploaded",
        actor=actor,
        object_type="media_file",
        object_id=media.pk,
        details={"content_type": content_type, "size": size},
    )
    return media


@transaction.atomic
def media_file_delete(*, media: MediaFile, actor: Actor) -> None:
    """Delete the image; its file goes after the commit (a rolled-back delete keeps
    it). Emails already sent that show it show a broken image from then on."""
    audit_record(
        workspace=media.workspace,
        action="media.deleted",
        actor=actor,
        object_type="media_file",
        object_id=media.pk,
        details={"name": media.original_name},
    )
    MediaFile.objects.filter(pk=media.pk).delete()
    storage, name = media.file.storage, media.file.name
    if name:
        transaction.on_commit(lambda: storage.delete(name))
