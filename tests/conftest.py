"""Shared fixtures: each lives in tests/fixtures/ and is loaded as a plugin here."""

from hypothesis import HealthCheck, settings

# Hypothesis's timing checks (slow generation, per-example deadlines) fail on a busy
# 2-core CI machine without saying anything about Heard; speed is measured in benchmarks/.
settings.register_profile("heard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("heard")

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.slack",
    "tests.fixtures.openai",
    "tests.fixtures.heard",
]
