"""Shared fixtures: each lives in tests/fixtures/ and is loaded as a plugin here."""

import os
from collections import Counter

from hypothesis import HealthCheck, settings

# Hypothesis's timing checks (slow generation, per-example deadlines) fail on a busy
# 2-core CI machine without saying anything about Heard; speed is measured in benchmarks/.
# Each property test gets Hypothesis's 100 examples, new ones each CI run (a fresh clone
# has no example database); HYPOTHESIS_PROFILE=thorough tries ten times as many.
settings.register_profile("heard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", settings.get_profile("heard"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "heard"))

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.slack",
    "tests.fixtures.openai",
    "tests.fixtures.heard",
    "tests.fixtures.workspace",
]


def pytest_terminal_summary(terminalreporter):
    """One line per reason for the skips (`-rs` lists each one), PostgreSQL's first."""
    from tests.fixtures.db import POSTGRES_ENV, POSTGRES_SKIP  # a plugin: imported once registered

    reasons = Counter(_skip_reason(report) for report in terminalreporter.stats.get("skipped", []))
    postgres = reasons.pop(POSTGRES_SKIP, 0)
    if postgres:
        terminalreporter.write_line(f"{postgres} PostgreSQL tests skipped: {POSTGRES_ENV} is not set")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count} skipped: {reason}")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
