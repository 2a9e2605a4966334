"""Compare workspaces' event summaries and rollups with their raw data, record the
result, and repair what differs (the check beat runs on a sample every hour)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services import drift_check, drift_summary
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Compare summaries and rollups with the raw data; repair and record what differs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace", action="append", default=[], help="slug (repeatable; default all)"
        )
        parser.add_argument("--all", action="store_true", help="every contact, not a sample")
        parser.add_argument("--sample", type=int, default=500, help="contacts per workspace")
        parser.add_argument("--no-repair", action="store_true", help="only count")

    def handle(self, *args: Any, **options: Any) -> None:
        workspaces = Workspace.objects.order_by("pk")
        if options["workspace"]:
            workspaces = workspaces.filter(slug__in=options["workspace"])
            missing = set(options["workspace"]) - {w.slug for w in workspaces}
            if missing:
                raise CommandError(f"no workspace {', '.join(sorted(missing))}")
        for workspace in workspaces:
            check = drift_check(
                workspace=workspace,
                sample=None if options["all"] else options["sample"],
                repair=not options["no_repair"],
            )
            self.stdout.write(json.dumps({"slug": workspace.slug, **drift_summary(check)}))
