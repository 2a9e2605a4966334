from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from workspaces.services import workspace_provision


class Command(BaseCommand):
    help = "Create a workspace (with its default lifecycle stages), optionally with an owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--owner-email")
        parser.add_argument(
            "--owner-password", help="Set for a new user; without it the user sets one by reset."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace, owner = workspace_provision(
                slug=options["slug"],
                name=options["name"],
                time_zone=options["time_zone"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
            )
        except DomainError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from None
        self.stdout.write(f"Created workspace {workspace.slug} (id {workspace.pk})")
        if owner:
            self.stdout.write(f"Owner: {owner.email}")
