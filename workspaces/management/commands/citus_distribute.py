"""Distribute the schema on a Citus cluster (config/citus.py, docs/scaling.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.citus import distribute, distribution_statements, layout


def _node(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--worker {value!r}: expected host:port")
    return host, int(port)


class Command(BaseCommand):
    help = (
        "On a Citus coordinator, after migrate: register the workers and make tenant "
        "tables distributed by workspace_id and global tables reference tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--worker", action="append", default=[], help="host:port as the coordinator sees it"
        )
        parser.add_argument(
            "--print", action="store_true", help="Print the statements; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["print"]:
            plan = layout()
            for statement in distribution_statements(plan):
                self.stdout.write(statement + ";")
            if plan.unplaced:
                self.stderr.write("-- without workspace_id yet: " + ", ".join(plan.unplaced))
            return
        try:
            ran = distribute(workers=[_node(w) for w in options["worker"]])
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(ran)} tables distributed or made reference tables.")
