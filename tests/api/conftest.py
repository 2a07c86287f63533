"""Fixtures of the REST API tests: clients that send a user's API token, fresh throttles."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counts live in the cache: every test starts from zero.
    cache.clear()
    yield
    cache.clear()


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


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are made in every test; the real hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
