"""What other apps give a new workspace: each registers a function here in its
AppConfig.ready() (lifecycle: the default stages), and `workspace_provision` calls them
in the transaction that creates the workspace."""

from __future__ import annotations

from collections.abc import Callable

from workspaces.models import Workspace

WorkspaceCreatedHook = Callable[[Workspace], object]
WORKSPACE_CREATED_HOOKS: list[WorkspaceCreatedHook] = []


def on_workspace_created(hook: WorkspaceCreatedHook) -> WorkspaceCreatedHook:
    if hook not in WORKSPACE_CREATED_HOOKS:
        WORKSPACE_CREATED_HOOKS.append(hook)
    return hook
