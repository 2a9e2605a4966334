from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from workspaces.models import Workspace
from workspaces.services import Actor, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a workspace. The secret is the last line of the output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--rate-limit",
            type=int,
            default=None,
            help="requests per minute (default: the installation's)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug '{options['workspace']}'.")
        try:
            key, secret = api_key_create(
                workspace=workspace,
                name=options["name"],
                actor=Actor(system="cli"),
                rate_limit_per_minute=options["rate_limit"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created API key '{key.name}' ({key.prefix}…) for {workspace.slug}.")
        self.stdout.write("The secret is shown once:")
        self.stdout.write(secret)
