"""Account actions. API tokens: created, looked up by the hash of their key, revoked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from .models import ApiToken

# last_used_at is written at most this often: a script polling every second would otherwise
# write a row per request (and contend with the worker for SQLite's lock).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def token_create(user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it and its key, which is not stored and cannot be shown
    again."""
    raw_key = secrets.token_urlsafe(32)  # 256 random bits
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100] or "API token",
        prefix=raw_key[:8],
        key_hash=_hash(raw_key),
    )
    return token, raw_key


def token_revoke(token: ApiToken) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first time."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def token_authenticate(raw_key: str) -> ApiToken | None:
    """The active token with this key, of an active user; None otherwise."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
