"""Fixtures of the feedback tests, reused by the hardening tests."""
from tests.feedback.conftest import sender, service  # noqa: F401
