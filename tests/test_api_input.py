"""Bad input anywhere in the API is a 4xx in the documented error shape, never a 500 and
never an HTML page: the JSON parser (config/parsers.py), the request guard
(config/middleware.py), the error handlers (config/api.py), the CSV reader and the
documented size limits of attributes and properties."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from contacts import selectors
from contacts.models import Contact, ImportJob
from contacts.validation import MAX_ATTRIBUTES_BYTES, MAX_JSON_STRING
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
CONTACTS = "/api/v1/contacts/"
EVENTS = "/api/v1/events/"


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = json.loads(response.content)["error"]
    assert error["code"] == code, error
    assert error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error


def post_raw(api: APIClient, url: str, body: str) -> Any:
    return api.generic("POST", url, body, content_type="application/json")


@pytest.mark.parametrize("url", [CONTACTS, EVENTS, "/api/v1/segments/preview/"])
def test_deeply_nested_json_is_refused(api, url):
    deep = "[" * 100_000 + "]" * 100_000
    assert_error(post_raw(api, url, deep), 400, "invalid")
    nested = '{"email": "a@b.co", "attributes": {"x": ' + "[" * 40 + "]" * 40 + "}}"
    assert_error(post_raw(api, url, nested), 400, "invalid")
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (CONTACTS, '{"email": "a@b.co", "first_name": "\\ud800"}', "first_name"),
        (CONTACTS, '{"email": "a@b.co", "attributes": {"note": "x\\udfffy"}}', "attributes.note"),
        (CONTACTS, '{"email": "a@b.co", "attributes": {"\\ud800": 1}}', "attributes"),
        (
            EVENTS,
            '{"contact": {"email": "a@b.co"}, "name": "x", "properties": {"p": "\\ud800"}}',
            "properties.p",
        ),
        ("/api/v1/segments/", '{"name": "\\udc00", "rule": {"attr": "a"}}', "name"),
        (
            "/api/v1/segments/preview/",
            '{"rule": {"event": "x", "where": [{"property": "a\\u0000", "op": "eq"}]}}',
            "rule.where[0].property",
        ),
    ],
)
def test_lone_surrogates_and_nul_in_json_are_refused_naming_the_value(api, url, body, field):
    error = assert_error(post_raw(api, url, body), 400, "invalid")
    assert any(key.startswith(field) for key in error["fields"]), error
    assert "\\ud" not in json.dumps(error).lower() or "surrogate" in json.dumps(error)
    assert not Contact.objects.exists()


def test_a_valid_surrogate_pair_is_text(api):
    response = post_raw(api, CONTACTS, '{"email": "a@b.co", "first_name": "\\ud83d\\ude00"}')
    assert response.status_code == 201
    assert Contact.objects.get().first_name == "\U0001f600"


@pytest.mark.parametrize(
    ("url", "param"),
    [
        (CONTACTS, "email_status"),
        (CONTACTS, "sms_status"),
        (CONTACTS, "q"),
        ("/api/v1/messages/", "status"),
        ("/api/v1/messages/", "channel"),
        ("/api/v1/analytics/overview/", "source"),
        ("/api/v1/analytics/funnel/", "signup_month"),
        ("/api/v1/contacts/export/", "email_status"),
        ("/api/v1/contacts/export/", "q"),
        ("/api/v1/consent/export/", "channel"),
    ],
)
def test_nul_in_a_query_parameter_is_refused_by_name(api, url, param):
    error = assert_error(api.get(url, {param: "sub\x00scribed"}), 400, "invalid", param)
    assert "NUL" in error["fields"][param][0]


def test_the_guard_runs_in_the_api_handler_too(owner):
    """config/wsgi.py serves /api/ with API_MIDDLEWARE: the guard is in that list."""

    assert "config.middleware.ApiGuardMiddleware" in settings.API_MIDDLEWARE
    assert "config.middleware.ApiGuardMiddleware" in settings.MIDDLEWARE


def test_multipart_bodies_are_refused_where_json_is_expected(api):
    for url in ("/api/v1/segments/", CONTACTS, "/api/v1/segments/preview/", EVENTS):
        response = api.post(url, {"name": "x", "rule": "null"}, format="multipart")
        assert_error(response, 415, "unsupported_media_type")


def _upload(api: APIClient, content: bytes, name: str = "people.csv") -> Any:
    return api.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile(name, content)}, format="multipart"
    )


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
        codecs.BOM_UTF16_LE + "email,name\na@b.co,Ada\n".encode("utf-16-le"),
        "email,name\na@b.co,Ada\n".encode("utf-16-be"),
        b"email,na\x00me\na@b.co,Ada\n",
        b"email\n\x00\n",
    ],
)
def test_binary_zip_utf16_and_nul_csv_files_are_refused(api, content):
    assert_error(_upload(api, content), 400, "invalid", "file")
    assert not ImportJob.objects.exists()


def test_a_control_character_in_the_upload_name_is_not_stored(api):
    response = _upload(api, b"email\na@b.co\n", name="peo\x07ple.csv")
    assert response.status_code == 201, response.content
    assert ImportJob.objects.get().filename == "people.csv"


def test_an_upload_mapping_with_nul_is_refused(api):
    response = api.post(
        "/api/v1/imports/",
        {
            "file": SimpleUploadedFile("a.csv", b"email\na@b.co\n"),
            "mapping": '{"email": "email\\u0000"}',
        },
        format="multipart",
    )
    assert_error(response, 400, "invalid")


def test_an_oversized_body_is_413_in_the_error_shape(api, settings):
    big = json.dumps({"email": "a@b.co", "attributes": {"x": "y" * (11 * 1024 * 1024)}})
    for url in (CONTACTS, EVENTS, "/api/v1/segments/"):
        error = assert_error(post_raw(api, url, big), 413, "too_large")
        assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]


def test_attribute_and_property_sizes_are_bounded(api, ws):
    nine_mb = {"email": "a@b.co", "attributes": {"blob": "x" * (9 * 1024 * 1024)}}
    response = post_raw(api, CONTACTS, json.dumps(nine_mb))
    assert response.status_code in (400, 413)
    long_value = {"email": "a@b.co", "attributes": {"notes": "x" * (MAX_JSON_STRING + 1)}}
    assert_error(api.post(CONTACTS, long_value, format="json"), 400, "invalid", "attributes.notes")
    many = {f"k{i}": "x" * 1000 for i in range(MAX_ATTRIBUTES_BYTES // 1000 + 1)}
    assert_error(
        api.post(CONTACTS, {"email": "a@b.co", "attributes": many}, format="json"),
        400,
        "invalid",
        "attributes",
    )
    # Each update within the limits, the merged attributes not.
    contact = ContactFactory.create(workspace=ws, attributes={})
    half = {f"a{i}": "x" * 1000 for i in range(MAX_ATTRIBUTES_BYTES // 2000 + 1)}
    other = {f"b{i}": "x" * 1000 for i in range(MAX_ATTRIBUTES_BYTES // 2000 + 1)}
    response = api.patch(f"{CONTACTS}{contact.pk}/", {"attributes": half}, format="json")
    assert response.status_code == 200, response.content[:200]
    assert_error(
        api.patch(f"{CONTACTS}{contact.pk}/", {"attributes": other}, format="json"),
        400,
        "invalid",
        "attributes",
    )
    event = {"contact": {"email": "a@b.co"}, "name": "x", "properties": {"p": "x" * 5000}}
    assert_error(api.post(EVENTS, event, format="json"), 400, "invalid", "properties.p")


def test_errors_outside_drf_are_in_the_api_shape(api, owner, settings, monkeypatch):
    settings.DEBUG = False
    assert_error(api.get("/api/v1/no-such-route/"), 404, "not_found")
    assert_error(api.get("/api/nothing"), 404, "not_found")
    assert_error(api.delete(CONTACTS), 405, "method_not_allowed")
    assert_error(api.get(CONTACTS, HTTP_HOST="evil.example"), 400, "bad_request")
    assert_error(api.get(CONTACTS + "?q=" + "x" * 9000), 414, "uri_too_long")
    # A bug is a 500, and still JSON under /api/.

    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "contacts_search", boom)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.secret}")
    assert_error(client.get(CONTACTS), 500, "server_error")
    # The dashboard keeps its HTML pages.
    page = Client(raise_request_exception=False).get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_utc_offsets_postgresql_cannot_store_are_refused(api, ws):
    """Python reads offsets up to 23:59; PostgreSQL stores up to 15:59 (was a 500)."""
    far = "2026-01-12T18:13:05-22:03"
    event = {"contact": {"email": "a@b.co"}, "name": "x", "occurred_at": far}
    assert_error(api.post(EVENTS, event, format="json"), 400, "invalid", "occurred_at")
    assert_error(api.get(CONTACTS, {"updated_since": far}), 400, "invalid", "updated_since")
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "x", "channel": "email", "template_id": 1, "schedule": "at", "send_at": far},
        format="json",
    )
    assert_error(response, 400, "invalid", "send_at")


def test_a_report_with_more_buckets_than_sql_allows_is_refused(api, ws):
    """Ten years by day was 3650 columns in one statement (PostgreSQL allows 1664): 500."""
    params = {"start": "2016-01-01", "end": "2025-12-31", "granularity": "day"}
    assert_error(api.get("/api/v1/analytics/churn/", params), 400, "invalid", "granularity")
    params["granularity"] = "week"
    assert api.get("/api/v1/analytics/churn/", params).status_code == 200
