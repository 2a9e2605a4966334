from __future__ import annotations

from typing import Any

import pytest

from lifecycle.services import stages_create_defaults
from workspaces.models import Workspace


@pytest.fixture
def stages(ws: Workspace) -> dict[str, Any]:
    """The default stages of the workspace, by key."""
    return {s.key: s for s in stages_create_defaults(workspace=ws)}
