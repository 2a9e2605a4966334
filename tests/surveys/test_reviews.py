"""Review requests: the products of the purchase that let a contact into a journey
are listed on the hosted page, each with stars and a text; reviews wait for
moderation (dashboard by htmx, API), and approved ones are what a site lists and
exports. Another workspace's reviews are 404s."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from messaging.models import Message
from messaging.services.outgoing import messages_render
from surveys.models import Review, SurveyResponse
from surveys.services import survey_ask
from surveys.tokens import open_path
from tests.campaigns.journeys.helpers import advance, ingest, journey, step
from tests.factories import ContactFactory
from tests.surveys.helpers import ACTOR, answer_links, nps_survey

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
PURCHASE = {
    "order_id": "A-1001",
    "items": [
        {"product_id": "MUG-1", "name": "Blue <b>mug</b>", "price": 12},
        # Line items as the catalogue checks them (product_id each); a title is kept.
        {"product_id": "TEA-7", "title": "Green tea", "quantity": 2},
    ],
}


def review_survey(ws: Any, **data: Any) -> Any:
    return nps_survey(
        ws, name="Product reviews", kind="review", question="How do you like it?", **data
    )


def rendered(message: Message) -> Message:
    message = Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)
    messages_render([message])
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=timezone.now() - dt.timedelta(minutes=1)
    )
    message.refresh_from_db()
    return message


def page_of(message: Message, stars: int) -> tuple[Client, str]:
    """A person taps `stars` in the email: the hosted page's path."""
    client = Client(HTTP_USER_AGENT=BROWSER)
    response = client.get(answer_links(message)[stars - 1])
    assert response.status_code == 303
    return client, response["Location"]


@pytest.fixture
def asked(ws):
    survey = review_survey(ws)
    contact = ContactFactory.create(workspace=ws, first_name="Robin")
    message = survey_ask(
        survey=survey,
        contact=contact,
        channel="email",
        idempotency_key="order-A-1001",
        actor=ACTOR,
        order_id="A-1001",
        items=[{"id": "MUG-1", "name": "Blue mug"}, {"id": "TEA-7", "name": "Green tea"}],
    )
    return survey, contact, rendered(message)


def review(survey: Any, item_id: str) -> Review:
    return Review.objects.get(survey=survey, item_id=item_id)


def test_a_purchase_journey_asks_for_a_review_of_each_product_bought(ws):
    survey = review_survey(ws)
    journey(
        ws,
        {"kind": "event", "event": "purchase"},
        [step("ask", "send_survey", survey_id=survey.pk, channel="email")],
    )
    buyer = ContactFactory.create(workspace=ws, first_name="Ada")
    ingest(ws, buyer, "purchase", **PURCHASE)
    advance()
    message = rendered(Message.objects.get(contact=buyer, origin_kind="journey_step"))
    assert len(answer_links(message)) == 5  # one-tap stars
    client, path = page_of(message, 4)
    page = client.get(path).content.decode()
    assert "Blue &lt;b&gt;mug&lt;/b&gt;" in page and "Green tea" in page
    assert page.count('value="4" checked') == 2  # the tapped stars, for each product
    saved = client.post(
        path, {"rating-0": "5", "text-0": "Lovely <script>", "rating-1": "2", "text-1": ""}
    )
    assert saved.status_code == 303
    assert "will appear once it has been checked" in client.get(saved["Location"]).content.decode()
    mug, tea = review(survey, "MUG-1"), review(survey, "TEA-7")
    assert (mug.rating, mug.text, mug.status, mug.order_id) == (
        5,
        "Lovely <script>",
        "pending",
        "A-1001",
    )
    assert (mug.item_name, mug.author, mug.contact_id) == ("Blue <b>mug</b>", "Ada", buyer.pk)
    assert (tea.rating, tea.item_kind) == (2, "product")
    # The overall answer: the tap, then the mean of the ratings (3.5 rounds to 4).
    assert SurveyResponse.objects.get(survey=survey).score == 4


def test_an_edit_within_the_window_asks_for_moderation_again_then_is_locked(asked, owner):
    survey, _contact, message = asked
    client, path = page_of(message, 5)
    client.post(path, {"rating-0": "5", "text-0": "Great"})
    owner.api.post(
        f"/api/v1/reviews/{review(survey, 'MUG-1').pk}/moderate/",
        {"status": "approved"},
        format="json",
    )
    assert review(survey, "MUG-1").status == "approved"
    client.post(path, {"rating-0": "1", "text-0": "Broke after a day"})
    mug = review(survey, "MUG-1")
    assert (mug.rating, mug.text, mug.status, mug.moderated_at) == (
        1,
        "Broke after a day",
        "pending",
        None,
    )
    assert not Review.objects.filter(survey=survey, item_id="TEA-7").exists()  # not rated
    Review.objects.filter(survey=survey).update(created_at=timezone.now() - dt.timedelta(hours=25))
    locked = client.post(path, {"rating-0": "5", "text-0": "Changed my mind"})
    assert locked.status_code == 409
    assert review(survey, "MUG-1").rating == 1


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({}, "choose the stars of at least one item"),
        ({"rating-0": "", "text-0": "words but no stars"}, "choose the stars for your review"),
        ({"rating-0": "6"}, "must be from 1 to 5 stars"),
        ({"rating-0": "4", "text-0": "x" * 5001}, "at most 5000 characters"),
    ],
)
def test_a_bad_form_says_why_and_saves_nothing(asked, form, problem):
    _survey, _contact, message = asked
    client, path = page_of(message, 3)
    response = client.post(path, form)
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert not Review.objects.exists()


def test_the_anonymous_page_reviews_the_business(ws):
    survey = review_survey(ws)
    client = Client(enforce_csrf_checks=False)
    page = client.get(open_path(survey.pk, workspace_id=survey.workspace_id)).content.decode()
    assert "Your order" in page
    assert (
        client.post(
            open_path(survey.pk, workspace_id=survey.workspace_id),
            {"rating-0": "5", "text-0": "Nice shop"},
        ).status_code
        == 303
    )
    only = Review.objects.get(survey=survey)
    assert (only.item_kind, only.item_id, only.contact_id, only.rating) == ("order", "", None, 5)


def approved_reviews(ws: Any) -> tuple[Any, list[Review]]:
    survey = review_survey(ws)
    rows = [
        Review.objects.create(
            workspace=ws,
            survey=survey,
            send_key=f"m{i}",
            item_kind="product",
            item_id=item,
            item_name=item.title(),
            rating=rating,
            text=text,
            status=status,
        )
        for i, (item, rating, text, status) in enumerate(
            [
                ("mug-1", 5, "Lovely", "approved"),
                ("mug-1", 1, '=HYPERLINK("http://evil")', "approved"),
                ("mug-1", 2, "Rude words", "rejected"),
                ("tea-7", 4, "Nice tea", "approved"),
                ("mug-1", 3, "Fine", "pending"),
            ]
        )
    ]
    return survey, rows


def test_the_api_lists_approved_reviews_of_a_product_for_a_site(api, ws, outsider_api):
    survey, rows = approved_reviews(ws)
    response = api.get("/api/v1/reviews/", {"status": "approved", "product": "mug-1"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [rows[1].pk, rows[0].pk]
    first = response.json()["results"][1]
    assert (first["rating"], first["text"], first["item_name"]) == (5, "Lovely", "Mug-1")
    assert [r["rating"] for r in api.get("/api/v1/reviews/", {"rating": 4}).json()["results"]] == [
        4
    ]
    assert len(api.get("/api/v1/reviews/", {"survey": survey.pk}).json()["results"]) == 5
    bad = api.get("/api/v1/reviews/", {"status": "published"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    assert api.get("/api/v1/reviews/", {"rating": 9}).status_code == 400
    # Moderation by API, and the outsider sees none of it.
    pending = rows[4]
    moderated = api.post(
        f"/api/v1/reviews/{pending.pk}/moderate/", {"status": "approved"}, format="json"
    )
    assert moderated.status_code == 200 and moderated.json()["status"] == "approved"
    refused = api.post(
        f"/api/v1/reviews/{pending.pk}/moderate/", {"status": "maybe"}, format="json"
    )
    assert refused.status_code == 400 and "status" in refused.json()["error"]["fields"]
    assert outsider_api.get(f"/api/v1/reviews/{pending.pk}/").status_code == 404
    stolen = outsider_api.post(
        f"/api/v1/reviews/{rows[2].pk}/moderate/", {"status": "approved"}, format="json"
    )
    assert stolen.status_code == 404
    assert review_status(rows[2]) == "rejected"
    assert outsider_api.get("/api/v1/reviews/").json()["results"] == []
    export = api.get("/api/v1/reviews/export/", {"status": "approved"})
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert lines[0][:3] == ["id", "status", "rating"] and len(lines) == 1 + 4
    assert '\'=HYPERLINK("http://evil")' in [line[3] for line in lines]


def review_status(row: Review) -> str:
    row.refresh_from_db()
    return row.status


def test_the_ask_api_takes_the_order_and_products(api, ws):
    survey = review_survey(ws)
    contact = ContactFactory.create(workspace=ws)
    body = {
        "contact_id": contact.pk,
        "idempotency_key": "o-9",
        "order_id": "O-9",
        "items": [{"id": "SKU-1", "name": "Lamp"}],
    }
    assert api.post(f"/api/v1/surveys/{survey.pk}/ask/", body, format="json").status_code == 201
    bad = api.post(
        f"/api/v1/surveys/{survey.pk}/ask/",
        {**body, "idempotency_key": "o-10", "items": [{"id": "", "colour": "red"}]},
        format="json",
    )
    assert bad.status_code == 400 and "items[0]" in bad.json()["error"]["fields"]
    nulls = api.post(
        f"/api/v1/surveys/{survey.pk}/ask/",
        {**body, "idempotency_key": "o-11", "items": None, "order_id": None},
        format="json",
    )
    assert nulls.status_code == 400
    assert set(nulls.json()["error"]["fields"]) == {"items", "order_id"}


def test_the_dashboard_moderates_by_htmx_and_exports(
    owner, teammate, outsider, ws, django_assert_max_num_queries
):
    _survey, rows = approved_reviews(ws)
    with django_assert_max_num_queries(12):
        page = owner.web.get(f"/w/{ws.slug}/reviews/?status=all").content.decode()
    assert page.count('class="review-item"') == 5
    page = owner.web.get(f"/w/{ws.slug}/reviews/").content.decode()
    assert "Fine" in page and "Lovely" not in page  # pending by default
    assert 'data-count="pending">(1)' in page and 'data-count="approved">(3)' in page
    approved = owner.web.get(
        f"/w/{ws.slug}/reviews/?status=approved&product=mug-1"
    ).content.decode()
    assert "Lovely" in approved and "Nice tea" not in approved
    url = f"/w/{ws.slug}/reviews/{rows[4].pk}/approve/"
    fragment = owner.web.post(url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert body.lstrip().startswith(f'<article class="review-item" id="review-{rows[4].pk}"')
    assert 'data-status="approved"' in body and "Approve</button>" not in body
    assert review_status(rows[4]) == "approved"
    assert owner.web.post(f"/w/{ws.slug}/reviews/{rows[0].pk}/reject/").status_code == 302
    assert review_status(rows[0]) == "rejected"
    assert teammate.web.post(f"/w/{ws.slug}/reviews/{rows[1].pk}/reject/").status_code == 403
    assert outsider.web.get(f"/w/{ws.slug}/reviews/").status_code == 404
    assert (
        outsider.web.post(f"/w/{outsider.workspace.slug}/reviews/{rows[1].pk}/reject/").status_code
        == 404
    )
    assert review_status(rows[1]) == "approved"
    export = owner.web.get(f"/w/{ws.slug}/reviews/export.csv?status=all")
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(lines) == 1 + 5


def test_a_review_requests_report_links_to_its_reviews(owner, ws):
    survey = review_survey(ws)
    page = owner.web.get(f"/w/{ws.slug}/surveys/{survey.pk}/").content.decode()
    assert f"/w/{ws.slug}/reviews/?status=all&amp;survey={survey.pk}" in page
