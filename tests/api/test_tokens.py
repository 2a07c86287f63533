"""API tokens: only a hash is stored, revoked or unknown keys are refused."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from accounts.models import ApiToken
from accounts.services import token_create, token_revoke

pytestmark = pytest.mark.django_db


def test_a_token_stores_its_hash_and_prefix_only(make_user):
    token, key = token_create(make_user("ann"), "laptop script")
    stored = ApiToken.objects.get()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8] and len(key) >= 40
    assert key not in {getattr(stored, f.attname) for f in ApiToken._meta.fields}
    assert str(token) == f"laptop script ({key[:8]}…)"


def test_token_authenticates_until_revoked(make_user):
    token, key = token_create(make_user("ann"), "script")
    api = Client(headers={"Authorization": f"Token {key}"})
    assert api.get("/api/v1/jobs").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    token_revoke(token)
    refused = api.get("/api/v1/jobs")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header", ["Token not-a-key", "Token", "Token a b", "Bearer whatever"], ids=str
)
def test_bad_credentials_are_refused(make_user, header):
    token_create(make_user("ann"), "script")
    response = Client(headers={"Authorization": header}).get("/api/v1/jobs")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_an_inactive_users_token_is_refused_saying_why(make_user):
    ann = make_user("ann")
    _, key = token_create(ann, "script")
    ann.is_active = False
    ann.save()
    refused = Client(headers={"Authorization": f"Token {key}"}).get("/api/v1/jobs")
    assert refused.status_code == 401 and "suspended" in refused.json()["detail"]


def test_a_bearer_header_carries_the_same_key(make_user):
    _, key = token_create(make_user("ann"), "script")
    assert Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/jobs").status_code == 200
    refused = Client(headers={"Authorization": "Bearer not-a-key"}).get("/api/v1/jobs")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid or revoked token."


def test_create_api_token_command_prints_a_working_key(make_user, capsys):
    from django.core.management import call_command

    make_user("ann")
    call_command("create_api_token", "ann@example.com", "backup script")
    key = capsys.readouterr().out.strip()
    assert ApiToken.objects.get().name == "backup script"
    assert Client(headers={"Authorization": f"Token {key}"}).get("/api/v1/jobs").status_code == 200
