"""Fixtures of the journey tests: the default stages and an email template."""

import pytest

from lifecycle.services import stages_create_defaults
from tests.messaging.helpers import email_template


@pytest.fixture
def stages(ws):
    return {s.key: s for s in stages_create_defaults(workspace=ws)}


@pytest.fixture
def tpl(ws):
    return email_template(ws)
