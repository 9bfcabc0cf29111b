"""Fault tests: Heard under crashes, stops and failing listeners."""

from tests.features.feedback.room import feedback, untracked  # noqa: F401
