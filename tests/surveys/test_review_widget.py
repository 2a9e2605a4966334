"""The review widget's data for a business's site: approved reviews only (of a product,
or all), with their count and average, readable from any origin, cacheable, limited per
client address; another workspace's reviews never appear; bad parameters are 400s by
field. The reviews page gives the marketer the snippet to paste, escaped."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from surveys.models import Review
from tests.surveys.test_reviews import approved_reviews, review_survey

pytestmark = pytest.mark.django_db


def _url(ws: Any) -> str:
    return f"/widget/reviews/{ws.slug}/"


def test_it_lists_the_approved_reviews_of_a_product_with_their_average(ws: Any) -> None:
    approved_reviews(ws)
    response = Client().get(_url(ws), {"product": "mug-1"}, HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    # Approved only (the rejected and the pending are not shown), newest first.
    assert (body["count"], body["average"], body["product"]) == (2, 3.0, "mug-1")
    assert [(r["rating"], r["text"]) for r in body["reviews"]] == [
        (1, '=HYPERLINK("http://evil")'),
        (5, "Lovely"),
    ]
    assert set(body["reviews"][0]) == {"rating", "text", "author", "item_name", "date"}
    every = Client().get(_url(ws), {"limit": "1"}).json()
    assert (every["count"], len(every["reviews"]), every["product"]) == (3, 1, None)


def test_another_workspaces_reviews_never_appear(ws: Any, outsider: Any) -> None:
    approved_reviews(ws)
    other = outsider.workspace
    survey = review_survey(other)
    Review.objects.create(
        workspace=other,
        survey=survey,
        send_key="x",
        item_kind="product",
        item_id="mug-1",
        rating=2,
        text="Theirs",
        status="approved",
    )
    mine = Client().get(_url(ws), {"product": "mug-1"}).json()
    assert "Theirs" not in [r["text"] for r in mine["reviews"]] and mine["count"] == 2
    theirs = Client().get(_url(other), {"product": "mug-1"}).json()
    assert [r["text"] for r in theirs["reviews"]] == ["Theirs"]
    assert Client().get("/widget/reviews/no-such-workspace/").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "51"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"product": "p" * 201}, "product"),
        ({"product": "a\x00b"}, "product"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(ws: Any, params: dict[str, str], field: str) -> None:
    response = Client().get(_url(ws), params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_each_client_address_is_limited(ws: Any, settings: Any) -> None:
    settings.REVIEW_WIDGET_RATE_PER_MINUTE = 2
    client = Client()
    assert [client.get(_url(ws)).status_code for _ in range(3)] == [200, 200, 429]
    limited = client.get(_url(ws))
    assert limited["Retry-After"] == "60" and limited["Access-Control-Allow-Origin"] == "*"


def test_the_reviews_page_gives_the_snippet_escaped(owner: Any, ws: Any) -> None:
    approved_reviews(ws)
    page = owner.web.get(f"/w/{ws.slug}/reviews/", {"product": 'mug-1"><script>x()</script>'})
    html = page.content.decode()
    assert page.status_code == 200
    assert f"data-stagecraft-reviews=&quot;{ws.slug}&quot;" in html
    assert "/static/js/review-widget.js" in html
    assert "<script>x()</script>" not in html
