"""Create the demo workspace: a coffee roaster with a few thousand contacts and a year
of their behaviour. Idempotent: a second run leaves an existing demo alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from analytics.report_query import local_today
from demo.analytics import demo_analytics_create
from demo.broadcasts import demo_broadcast_seed, demo_segments_seed
from demo.campaigns import demo_journeys_seed, demo_messaging_seed
from demo.catalogue import demo_catalogue_seed
from demo.contacts import demo_contacts_create
from demo.lifecycle import demo_history_replay
from demo.loyalty import demo_loyalty_seed
from demo.referrals import demo_referrals_seed
from demo.reviews import demo_reviews_seed
from demo.surveys import (
    demo_survey_journey_seed,
    demo_survey_report_seed,
    demo_surveys_seed,
)
from workspaces.models import Workspace
from workspaces.services import Actor, api_key_create, workspace_provision

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@stagecraft.local"
DEMO_PASSWORD = "stagecraft-demo"  # noqa: S105 - the documented demo login


class Command(BaseCommand):
    help = "Create the demo workspace with contacts and 12 months of events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="the last day of the demo year (default: today)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete the demo workspace first and build it again",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        existing = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if existing and options["reset"]:
            existing.delete()
            existing = None
        if existing:
            self.stdout.write(
                f"Demo workspace '{DEMO_SLUG}' exists; left as it is (--reset rebuilds it)."
            )
            return
        with transaction.atomic():
            workspace, owner = workspace_provision(
                slug=DEMO_SLUG,
                name="Northwind Coffee Roasters",
                time_zone="America/New_York",
                owner_email=DEMO_EMAIL,
                owner_password=DEMO_PASSWORD,
            )
            # The demo login also opens the Django admin, to show it.
            assert owner is not None
            owner.is_staff = owner.is_superuser = True
            owner.save(update_fields=["is_staff", "is_superuser"])
            summary = demo_contacts_create(
                workspace=workspace,
                contacts=options["contacts"],
                seed=options["seed"],
                today=options["today"],
            )
            moves = demo_history_replay(workspace=workspace)
            _, secret = api_key_create(
                workspace=workspace, name="Demo integration", actor=Actor(system="seed_demo")
            )
        today = options["today"] or local_today(workspace)
        demo_analytics_create(workspace=workspace, today=today, seed=options["seed"])
        sent = demo_messaging_seed(workspace=workspace)
        demo_journeys_seed(workspace=workspace)
        demo_segments_seed(workspace=workspace)
        answers = demo_surveys_seed(workspace=workspace, seed=options["seed"], today=today)
        demo_survey_journey_seed(workspace=workspace)
        demo_survey_report_seed(workspace=workspace)
        demo_broadcast_seed(workspace=workspace, seed=options["seed"])
        demo_catalogue_seed(workspace=workspace, seed=options["seed"], today=today)
        reviews = demo_reviews_seed(workspace=workspace, seed=options["seed"], today=today)
        ledger = demo_loyalty_seed(workspace=workspace, seed=options["seed"])
        referrals = demo_referrals_seed(workspace=workspace, seed=options["seed"])
        # Statistics for the planner after a bulk load: without them the first pages
        # (a broadcast's conversions) plan for empty tables and take seconds, not ms.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"Demo workspace '{DEMO_SLUG}': {summary.contacts} contacts, {summary.events} "
            f"events, {summary.purchases} purchases worth {summary.revenue} "
            f"{workspace.currency}; {moves} lifecycle stage moves over the year; "
            f"{sent} messages in the sandbox outbox; {answers} survey answers; {reviews} reviews; "
            f"{ledger} loyalty ledger entries; {referrals} referrals."
        )
        self.stdout.write(f"Demo API key (shown once): {secret}")
