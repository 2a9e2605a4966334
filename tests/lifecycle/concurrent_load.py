"""A load process for tests/lifecycle/test_concurrency.py: one client of the REST API
as an integration would be, run as its own process (`python -m
tests.lifecycle.concurrent_load <plan.json>`), so that several of them and the
Celery workers meet in PostgreSQL for real.

Requests go through Django's full request handling (the test client: URL routing,
authentication, views, services) against the database named by DATABASE_URL. The
plan (written by the test) says what to send; the process prints one JSON line: how
many requests got each status and the first few error bodies.

Roles:
- `events`: POST /api/v1/events/, each step either a batch or a single event, with
  idempotency keys, some sent again later with other values;
- `contacts`: batch upserts and PATCHes that change the acquisition source (which
  the rollups group by), and erasures of contacts whose email later events bring back;
- `answers`: a person tapping a score in a survey link (the public answer page, as
  the survey's one-tap scale sends them), now and then tapping another score at once
  (a scanner's burst, discarded) or later (a changed answer).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from typing import Any

import django
from django.test import Client


def main(plan_path: str) -> None:
    django.setup()

    with open(plan_path) as handle:
        plan = json.load(handle)
    # A server error is counted as a 500, as a client would see it, not raised.
    client = Client(
        HTTP_AUTHORIZATION=f"Bearer {plan['secret']}",
        HTTP_HOST="localhost",
        raise_request_exception=False,
    )
    statuses: Counter[int] = Counter()
    errors: list[str] = []

    def note(method: str, path: str, response: Any) -> None:
        statuses[response.status_code] += 1
        if response.status_code >= 500 and len(errors) < 5:
            # the exception behind it, which the error body rightly does not say
            exc_info = getattr(response, "exc_info", None)
            error = exc_info[1] if exc_info else None
            cause = (
                f"{type(error).__name__} ({type(error.__cause__).__name__}): {error}"[:800]
                if error is not None
                else ""
            )
            errors.append(f"{method.upper()} {path}: {cause} {response.content[:200]!r}")

    def call(method: str, path: str, body: Any = None) -> Any:
        send = getattr(client, method)
        if body is None:
            response = send(path)
        else:
            response = send(path, data=json.dumps(body), content_type="application/json")
        note(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    rng = random.Random(plan["seed"])
    # Every process starts together, so that the load really overlaps.
    while time.time() < plan["start_at"]:
        time.sleep(0.01)
    if plan["role"] == "answers":
        _answer(plan, rng, call, note)
    elif plan["role"] == "events":
        for step in plan["steps"]:
            if len(step) == 1:
                call("post", "/api/v1/events/", step[0])
            else:
                call("post", "/api/v1/events/", {"batch": step})
    else:
        _contacts(plan, rng, call)
    print(json.dumps({"statuses": dict(statuses), "errors": errors}), flush=True)


def _contacts(plan: dict, rng: random.Random, call: Any) -> None:
    emails = plan["emails"]
    for action in plan["steps"]:
        if action == "upsert":
            chosen = rng.sample(emails, 20)
            call(
                "post",
                "/api/v1/contacts/batch/",
                {
                    "contacts": [
                        {
                            "email": email,
                            "attributes": {"signup_source": rng.choice(plan["sources"])},
                        }
                        for email in chosen
                    ]
                },
            )
        else:
            email = rng.choice(emails)
            found = call("get", f"/api/v1/contacts/?email={email}")
            rows = (found or {}).get("results") or []
            if not rows:
                continue
            contact_id = rows[0]["id"]
            if action == "patch":
                call(
                    "patch",
                    f"/api/v1/contacts/{contact_id}/",
                    {"attributes": {"signup_source": rng.choice(plan["sources"])}},
                )
            else:
                call("delete", f"/api/v1/contacts/{contact_id}/")
        time.sleep(plan["pause"])


def _answer(plan: dict, rng: random.Random, call: Any, note: Any) -> None:
    from django.urls import reverse  # noqa: PLC0415

    from surveys.tokens import Send, answer_token  # noqa: PLC0415

    browser = Client(HTTP_HOST="localhost", raise_request_exception=False)
    addresses = iter(range(1, 1 << 16))  # a person each: the page's per-address limit
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    answered = 0
    deadline = time.time() + 60  # contacts come into being with their first events
    while answered < plan["steps"] and time.time() < deadline:
        found = call("get", f"/api/v1/contacts/?email={rng.choice(plan['emails'])}")
        rows = (found or {}).get("results") or []
        time.sleep(plan["pause"])
        if not rows:
            continue
        answered += 1
        send = Send(plan["survey_id"], rows[0]["id"], 0, plan["workspace_id"])
        for _tap in range(rng.choice([1, 1, 2])):  # two at once: a burst
            token = answer_token(send, rng.randint(0, 10))
            path = reverse("surveys_public:answer", args=[token])
            address = next(addresses)
            response = browser.get(
                path, HTTP_USER_AGENT=agent, REMOTE_ADDR=f"10.9.{address >> 8}.{address & 255}"
            )
            note("get", path, response)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    main(sys.argv[1])
