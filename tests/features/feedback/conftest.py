"""The feedback room's fixtures (defined in room.py, shared with tests/security/), and the
importer tests' workspace and sessions."""

import pytest

from bot.db import session_factory
from tests.features.feedback.room import feedback, untracked  # noqa: F401
from tests.people import ACME


@pytest.fixture
def acme_id(engine, make_workspace):
    return make_workspace(ACME, domain="acme").id


@pytest.fixture
def sessions(engine):
    return session_factory(engine)
