"""Referral attribution for contacts made in bulk: a batch upsert's items and a CSV
import's rows carry `referred_by` (a code or a landing token), go through the same
fraud guards as a single creation, and an unknown code is the item's error (the
batch's result by index, the import's rejected row by its CSV row number). Only a
creation is attributed: an item or row that updates a contact ignores the code."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from contacts.services import import_job_create, import_job_run, import_job_start
from contacts.services.import_mapping import suggest_mapping
from loyalty.models import Referral, ReferralStatus
from loyalty.services.referrals import referral_code_ensure, referral_settings_update
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/contacts/batch/"


def _programme(ws):
    referral_settings_update(
        workspace=ws, data={"enabled": True, "referrer_points": 500}, actor=ACTOR
    )


def _referrer(ws, email):
    contact = ContactFactory.create(workspace=ws, email=email)
    code = referral_code_ensure(contact=contact)
    assert code is not None
    return contact, code.code


def test_a_batch_upsert_attributes_the_contacts_it_creates(ws, api, outsider):
    _programme(ws)
    ann, code = _referrer(ws, "ann@example.com")
    existing = ContactFactory.create(workspace=ws, email="old@example.net")
    _programme(outsider.workspace)
    _, foreign = _referrer(outsider.workspace, "zed@example.org")
    response = api.post(
        BATCH,
        {
            "contacts": [
                {"email": "bob@example.net", "referred_by": code.lower()},
                {"email": "ann+2@example.com", "referred_by": code},  # ann herself
                {"email": "old@example.net", "referred_by": code},  # an update
                {"email": "eve@example.net", "referred_by": "ABCDEFGHJK"},
                {"email": "fay@example.net", "referred_by": foreign},
                {"email": "gus@example.net"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created",
        "created",
        "unchanged",
        "error",
        "error",
        "created",
    ]
    assert body["results"][3]["errors"] == {"referred_by": ["no such referral code"]}
    assert body["results"][4]["errors"] == {"referred_by": ["no such referral code"]}
    assert not Contact.objects.filter(
        workspace=ws, email__in=["eve@example.net", "fay@example.net"]
    ).exists()
    referrals = {r.referred.email: r for r in Referral.objects.select_related("referred")}
    assert set(referrals) == {"bob@example.net", "ann+2@example.com"}
    assert referrals["bob@example.net"].referrer_id == ann.pk
    assert referrals["bob@example.net"].status == ReferralStatus.PENDING
    # The same self-referral guard as a single creation.
    flagged = referrals["ann+2@example.com"]
    assert flagged.status == ReferralStatus.FLAGGED
    assert [f["reason"] for f in flagged.flags] == ["self_referral"]
    assert not Referral.objects.filter(referred=existing).exists()
    # The outsider's batch cannot use this workspace's code.
    refused = outsider.api.post(
        BATCH, {"contacts": [{"email": "x@example.org", "referred_by": code}]}, format="json"
    ).json()
    assert refused["results"][0]["errors"] == {"referred_by": ["no such referral code"]}


def _import(ws, text, mapping):
    upload = SimpleUploadedFile("friends.csv", text.encode(), content_type="text/csv")
    job = import_job_create(workspace=ws, upload=upload, actor=ACTOR)
    import_job_start(job=job, mapping=mapping, match_on="email", actor=ACTOR)
    done = import_job_run(job_id=job.pk)
    assert done is not None
    return done


def test_a_csv_import_attributes_rows_and_rejects_unknown_codes_by_row_number(ws):
    _programme(ws)
    ann, code = _referrer(ws, "ann@example.com")
    assert suggest_mapping(["Email", "Referral code"]) == {
        "Email": "email",
        "Referral code": "referred_by",
    }
    text = (
        "Email,Referral code\n"
        f"bob@example.net,{code}\n"  # row 2: attributed
        "cat@example.net,WRONG0CODE\n"  # row 3: unknown code
        "dan@example.net,\n"  # row 4: no code
        f"ann@example.com,{code}\n"  # row 5: updates ann: ignored
    )
    job = _import(ws, text, {"Email": "email", "Referral code": "referred_by"})
    assert (job.created_count, job.unchanged_count, job.rejected_count) == (2, 1, 1)
    errors = list(job.row_errors.values_list("row_number", "reason", "values"))
    assert errors == [
        (
            3,
            "Referral code: not a referral code, or the referral link's token is invalid"
            " or expired",
            {"Email": "cat@example.net", "Referral code": "WRONG0CODE"},
        )
    ]
    referral = Referral.objects.select_related("referred").get()
    assert (referral.referred.email, referral.referrer_id) == ("bob@example.net", ann.pk)


def test_with_the_programme_off_the_codes_are_accepted_and_ignored(ws):
    _programme(ws)
    _, code = _referrer(ws, "ann@example.com")
    referral_settings_update(workspace=ws, data={"enabled": False}, actor=ACTOR)
    job = _import(
        ws,
        f"email,referred_by\nbob@example.net,{code}\n",
        {"email": "email", "referred_by": "referred_by"},
    )
    assert (job.created_count, job.rejected_count) == (1, 0)
    assert not Referral.objects.exists()
