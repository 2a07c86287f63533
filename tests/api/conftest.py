"""Fixtures of the REST API tests: clients that send a user's API token, fresh throttles."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _api_isolation(fresh_cache, fast_passwords):
    # Throttle counts live in the cache: every test starts from zero, and makes users fast.
    pass


@pytest.fixture
def api_client(db):
    """A factory: api_client(user) is a test Client that sends a new API token of that user;
    api_client() is an anonymous one."""
    from accounts.services import token_create

    def make(user=None) -> Client:
        if user is None:
            return Client()
        _, key = token_create(user, "tests")
        return Client(headers={"Authorization": f"Token {key}"})

    return make


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content
