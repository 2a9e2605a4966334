"""Setting up a new workspace across apps: the workspace, its owner, and what each
app gives a new workspace (default lifecycle stages, ...). One call, one transaction,
used by the create_workspace command, the admin and the demo."""

from __future__ import annotations

from django.db import transaction

from workspaces.models import Role, User, Workspace
from workspaces.services import membership_set, user_get_or_create, workspace_create


@transaction.atomic
def workspace_provision(
    *,
    slug: str,
    name: str,
    time_zone: str = "UTC",
    owner_email: str | None = None,
    owner_password: str | None = None,
) -> tuple[Workspace, User | None]:
    from lifecycle.services import stages_create_defaults

    workspace = workspace_create(slug=slug, name=name, time_zone=time_zone)
    stages_create_defaults(workspace=workspace)
    owner = None
    if owner_email:
        owner = user_get_or_create(email=owner_email, password=owner_password)
        membership_set(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace, owner
