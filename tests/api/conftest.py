"""Fixtures of the REST API tests: clients that send a user's API token, fresh throttles."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _api_isolation(fresh_cache, fast_passwords):
    # Throttle counts live in the cache: every test starts from zero, and makes users fast.
    pass


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content
