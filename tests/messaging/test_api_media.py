"""Images over the API (/api/v1/media/): upload with the type sniffed from the bytes and
the size bounded (a refusal is a 400 naming `file`), list newest first with a cursor,
read, delete (the public file goes too); an outsider's key gets 404s and never lists
them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.models import MediaFile
from workspaces.models import AuditEntry

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16


def _upload(api, name, data, content_type="image/png", **extra):
    body = {"file": SimpleUploadedFile(name, data, content_type=content_type), **extra}
    return api.post("/api/v1/media/", body, format="multipart")


def _public_path(url):
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_upload_list_read_and_delete(api, owner, client, settings):
    created = _upload(api, "Spring <hero>.png", PNG)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    assert body["name"] == "Spring <hero>.png"
    served = client.get(_public_path(body["url"]))
    assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
    # The type is what the bytes say, whatever the name and the declared type.
    gif = _upload(api, "looks.png", GIF).json()
    assert gif["content_type"] == "image/gif" and gif["url"].endswith(".gif")
    webp = _upload(api, "photo", WEBP, content_type="application/octet-stream").json()
    assert webp["content_type"] == "image/webp"

    listed = api.get("/api/v1/media/?limit=2").json()
    assert [m["id"] for m in listed["results"]] == [webp["id"], gif["id"]]
    rest = api.get(f"/api/v1/media/?limit=2&cursor={listed['next_cursor']}").json()
    assert [m["id"] for m in rest["results"]] == [body["id"]] and rest["next_cursor"] is None
    assert api.get(f"/api/v1/media/{body['id']}/").json()["url"] == body["url"]

    stored = Path(MediaFile.objects.get(pk=body["id"]).file.path)
    assert stored.exists()
    assert api.delete(f"/api/v1/media/{body['id']}/").status_code == 204
    assert not MediaFile.objects.filter(pk=body["id"]).exists()
    assert client.get(_public_path(body["url"])).status_code == 404
    assert api.get(f"/api/v1/media/{body['id']}/").status_code == 404
    assert AuditEntry.objects.filter(action="media.deleted", object_id=body["id"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_deleted_images_file_leaves_the_disk(api, settings):
    body = _upload(api, "a.png", PNG).json()
    stored = Path(MediaFile.objects.get(pk=body["id"]).file.path)
    assert stored.exists()
    api.delete(f"/api/v1/media/{body['id']}/")
    assert not stored.exists()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("cat.png", b"<svg onload=alert(1)>", "not a PNG, JPEG, GIF or WebP image"),
        ("page.png", b"%PDF-1.7\n" + b"\x00" * 20, "not a PNG, JPEG, GIF or WebP image"),
        ("empty.png", b"", "the file is empty"),
        ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "at most 5 MB (this one is 5.0 MB)"),
    ],
)
def test_a_refused_upload_is_a_400_naming_the_file(api, name, data, reason):
    response = _upload(api, name, data)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"file": [reason]}
    assert not MediaFile.objects.exists()


def test_a_missing_file_or_an_unknown_field_is_a_400(api):
    missing = api.post("/api/v1/media/", {"name": "x"}, format="multipart")
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"name"}
    nothing = api.post("/api/v1/media/", {}, format="multipart")
    assert nothing.json()["error"]["fields"] == {"file": ["is required, as a file"]}
    extra = _upload(api, "a.png", PNG, alt="x")
    assert extra.status_code == 400 and extra.json()["error"]["fields"] == {
        "alt": ["unknown field"]
    }
    assert api.get("/api/v1/media/?cursor=nonsense").status_code == 400


def test_an_outsider_gets_404s_and_never_sees_the_images(api, outsider_api):
    body = _upload(api, "a.png", PNG).json()
    assert outsider_api.get(f"/api/v1/media/{body['id']}/").status_code == 404
    assert outsider_api.delete(f"/api/v1/media/{body['id']}/").status_code == 404
    assert outsider_api.get("/api/v1/media/").json()["results"] == []
    theirs = _upload(outsider_api, "b.png", PNG).json()
    assert api.delete(f"/api/v1/media/{theirs['id']}/").status_code == 404
    assert MediaFile.objects.count() == 2
