"""Shared fixtures: each lives in tests/fixtures/ and is loaded as a plugin here."""

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.slack",
    "tests.fixtures.openai",
    "tests.fixtures.heard",
]
