"""REST API authentication: `Authorization: Token <key>` with the accounts' ApiTokens."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .services import token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token header parsing, with Coloria's hashed, revocable tokens instead of DRF's
    plain-text authtoken table. (A subclass, so drf-spectacular documents the scheme.)"""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = token_authenticate(key)
        if token is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        return token.user, token
