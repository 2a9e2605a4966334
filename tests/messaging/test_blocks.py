"""Block documents: schema errors by path, escaping, every block kind rendered through
mrml, the sandbox rendering with personalisation, and the API (an outsider gets 404s)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.blocks import document_errors, document_render
from messaging.models import Template
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ALL_KINDS: dict[str, Any] = {
    "sections": [
        {
            "background": "#ffffff",
            "columns": [
                {
                    "blocks": [
                        {"type": "heading", "text": "Spring sale", "level": 1},
                        {
                            "type": "text",
                            "text": "Save **20%** on *everything*, [shop](https://shop.example/s)",
                        },
                        {
                            "type": "image",
                            "src": "https://cdn.example/p.png",
                            "alt": "A plant",
                            "href": "https://shop.example/p",
                        },
                        {
                            "type": "button",
                            "label": "Shop now",
                            "url": "https://shop.example/go",
                            "background": "#112233",
                            "color": "#ffffff",
                        },
                        {"type": "divider", "color": "#cccccc"},
                        {"type": "spacer", "height": 32},
                        {
                            "type": "social",
                            "links": [
                                {"network": "instagram", "url": "https://instagram.com/shop"}
                            ],
                        },
                        {
                            "type": "personalisation",
                            "before": "Hello ",
                            "field": "first_name",
                            "fallback": "friend",
                            "after": "!",
                        },
                    ]
                },
                {"blocks": [{"type": "text", "text": "Second column"}]},
            ],
        }
    ]
}


def _doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"sections": [{"columns": [{"blocks": list(blocks)}]}]}


def test_every_block_kind_renders():
    assert document_errors(ALL_KINDS) == {}
    rendered = document_render(ALL_KINDS)
    html = rendered.html
    for expected in (
        "Spring sale",
        "<strong>20%</strong>",
        "<em>everything</em>",
        'href="https://shop.example/s"',
        'src="https://cdn.example/p.png"',
        'alt="A plant"',
        "Shop now",
        "#112233",
        "border-top:solid 1px #cccccc",
        "height:32px",
        "https://instagram.com/shop",
        'Hello {{ first_name|default:"friend" }}!',
        "Second column",
        "@media only screen",  # responsive: columns stack on phones
    ):
        assert expected in html, expected
    assert "Shop now: https://shop.example/go" in rendered.text
    assert "shop (https://shop.example/s)" in rendered.text


def test_typed_html_and_template_syntax_come_out_as_text():
    doc = _doc(
        {"type": "heading", "text": "<script>alert(1)</script>"},
        {"type": "text", "text": "{{ unsubscribe_url }} {% now 'Y' %} <b>x</b>"},
        {"type": "button", "label": '"><img src=x>', "url": "https://a.example/?q=1&r=2"},
    )
    rendered = document_render(doc)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered.html
    assert "<img src=x>" not in rendered.html
    assert "{{ unsubscribe_url }}" not in rendered.html
    assert "{% now" not in rendered.html
    assert "{% templatetag openbrace %}{% templatetag openbrace %} unsubscribe_url" in rendered.text
    assert 'href="https://a.example/?q=1&amp;r=2"' in rendered.html


def test_bad_document_names_the_path():
    doc = copy.deepcopy(ALL_KINDS)
    column = doc["sections"][0]["columns"][0]["blocks"]
    column[3]["url"] = "javascript:alert(1)"
    column[7]["field"] = "password"
    column[7]["fallback"] = '"}}{{ x'
    errors = document_errors(doc)
    assert set(errors) == {
        "document.sections[0].columns[0].blocks[3].url",
        "document.sections[0].columns[0].blocks[7].field",
        "document.sections[0].columns[0].blocks[7].fallback",
    }
    four: dict[str, Any] = {"sections": [{"columns": [{"blocks": []}] * 4}]}
    assert document_errors(four) == {"document.sections[0].columns": ["from 1 to 3 items"]}
    assert "document.sections[0].columns[0].blocks[0].type" in document_errors(
        _doc({"type": "raw"})
    )


def test_api_blocks_template_previews_as_contact(api, ws, outsider_api):
    created = api.post(
        "/api/v1/templates/",
        {
            "name": "Blocks",
            "channel": "email",
            "subject": "Hi",
            "editor": "blocks",
            "document": ALL_KINDS,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["editor"] == "blocks" and "Spring sale" in data["body"]
    template = Template.objects.get(pk=data["id"])
    assert template.text_body.startswith("Spring sale")
    contact = ContactFactory.create(workspace=ws, first_name="<i>Ada</i>")
    preview = api.post(
        f"/api/v1/templates/{data['id']}/preview/", {"contact_id": contact.pk}, format="json"
    )
    assert preview.status_code == 200
    assert "Hello &lt;i&gt;Ada&lt;/i&gt;!" in preview.json()["html"]
    assert "Hello <i>Ada</i>!" in preview.json()["text"]
    empty = api.post(f"/api/v1/templates/{data['id']}/preview/", {}, format="json")
    assert "Hello friend!" in empty.json()["html"]
    assert outsider_api.get(f"/api/v1/templates/{data['id']}/").status_code == 404
    assert (
        outsider_api.patch(
            f"/api/v1/templates/{data['id']}/", {"name": "x"}, format="json"
        ).status_code
        == 404
    )


def test_api_bad_document_is_400_with_path(api):
    doc = _doc({"type": "button", "label": "Go", "url": "ftp://x"})
    response = api.post(
        "/api/v1/templates/",
        {"name": "Bad", "channel": "email", "subject": "Hi", "editor": "blocks", "document": doc},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [
        "document.sections[0].columns[0].blocks[0].url"
    ]
    as_text = api.post(
        "/api/v1/templates/",
        {"name": "Bad", "channel": "email", "subject": "Hi", "editor": "blocks", "document": "[]"},
        format="json",
    )
    assert as_text.status_code == 400 and "document" in as_text.json()["error"]["fields"]
    with_body = api.post(
        "/api/v1/templates/",
        {
            "name": "Bad",
            "channel": "email",
            "subject": "Hi",
            "editor": "blocks",
            "document": ALL_KINDS,
            "body": "<p>x</p>",
        },
        format="json",
    )
    assert with_body.status_code == 400 and "body" in with_body.json()["error"]["fields"]
    sms = api.post(
        "/api/v1/templates/",
        {"name": "S", "channel": "sms", "editor": "blocks", "document": ALL_KINDS},
        format="json",
    )
    assert sms.status_code == 400 and "editor" in sms.json()["error"]["fields"]
    junk = api.post(
        "/api/v1/templates/",
        {
            "name": "J",
            "channel": "email",
            "subject": "Hi",
            "body": "<p>x</p>",
            "document": {"sections": [None]},
        },
        format="json",
    )
    assert junk.status_code == 400 and "document.sections[0]" in junk.json()["error"]["fields"]


def test_api_update_rerenders_and_html_templates_stay_html(api):
    html = api.post(
        "/api/v1/templates/",
        {"name": "Raw", "channel": "email", "subject": "Hi", "body": "<p>raw</p>"},
        format="json",
    ).json()
    assert html["editor"] == "html" and html["document"] == {}
    changed = api.patch(
        f"/api/v1/templates/{html['id']}/",
        {"editor": "blocks", "document": _doc({"type": "heading", "text": "Now blocks"})},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert "Now blocks" in changed.json()["body"] and "<p>raw</p>" not in changed.json()["body"]
    assert Template.objects.get(pk=html["id"]).text_body == "Now blocks"


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_media_upload_sniffs_type_and_serves_publicly(owner, outsider, client):
    url = f"/w/{owner.workspace.slug}/templates/media/"
    fake = SimpleUploadedFile("cat.png", b"<svg onload=alert(1)>", content_type="image/png")
    refused = owner.web.post(url, {"file": fake})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"file": ["not a PNG, JPEG, GIF or WebP image"]}
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * (5 * 1024 * 1024), content_type="image/png")
    assert "at most 5 MB" in owner.web.post(url, {"file": big}).json()["error"]["fields"]["file"][0]
    uploaded = owner.web.post(url, {"file": SimpleUploadedFile("cat.png", PNG)})
    assert uploaded.status_code == 201
    media_url = uploaded.json()["url"]
    path = media_url.split("://", 1)[1].split("/", 1)[1]
    assert path.startswith(f"media/{owner.workspace.pk}/") and path.endswith(".png")
    served = client.get("/" + path)  # no session: mail clients load it
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG
    assert client.get(f"/media/{owner.workspace.pk}/guess.png").status_code == 404
    assert outsider.web.post(f"/w/{owner.workspace.slug}/templates/media/", {}).status_code == 404


def test_personal_fields_inline_in_heading_and_text():
    doc = _doc(
        {"type": "heading", "text": "Hi {{first_name|there}}, welcome"},
        {
            "type": "text",
            "text": "**Dear {{ full_name }}**, see [your {{stage}} page](https://a.example/)",
        },
    )
    assert document_errors(doc) == {}
    rendered = document_render(doc)
    assert 'Hi {{ first_name|default:"there" }}, welcome' in rendered.html
    assert "<strong>Dear {{ full_name }}</strong>" in rendered.html
    assert ">your {{ stage }} page</a>" in rendered.html
    assert 'Hi {{ first_name|default:"there" }}, welcome' in rendered.text
    assert "Dear {{ full_name }}, see your {{ stage }} page (https://a.example/)" in rendered.text


def test_inline_personal_fields_render_escaped_for_the_contact(api, ws):
    doc = _doc({"type": "text", "text": "Hello {{first_name|friend}}, thanks."})
    created = api.post(
        "/api/v1/templates/",
        {
            "name": "Inline",
            "channel": "email",
            "subject": "Hi",
            "editor": "blocks",
            "document": doc,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    contact = ContactFactory.create(workspace=ws, first_name='<img src=x onerror="1">')
    url = f"/api/v1/templates/{created.json()['id']}/preview/"
    shown = api.post(url, {"contact_id": contact.pk}, format="json").json()
    assert 'Hello &lt;img src=x onerror="1"&gt;, thanks.' in shown["html"]
    assert "<img src=x" not in shown["html"]
    assert "Hello friend, thanks." in api.post(url, {}, format="json").json()["html"]


def test_inline_tags_other_than_personal_fields_are_refused_and_stay_text():
    doc = _doc(
        {"type": "text", "text": "Go {{ unsubscribe_url }} now"},
        {"type": "heading", "text": 'Hi {{first_name|"}}{% now %}'},
    )
    errors = document_errors(doc)
    assert errors["document.sections[0].columns[0].blocks[0].text"] == [
        "“{{ unsubscribe_url }}” is not a personal field: one of first_name, last_name, "
        "full_name, email, phone, stage, workspace.name"
    ]
    assert "the fallback of" in errors["document.sections[0].columns[0].blocks[1].text"][0]
    rendered = document_render(doc)
    assert "{{ unsubscribe_url }}" not in rendered.html
    assert "&#123;&#123; unsubscribe_url &#125;&#125;" in rendered.html
