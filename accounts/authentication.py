"""REST API authentication: `Authorization: Token <key>` (or `Bearer <key>`) with the accounts'
ApiTokens."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from coloria_site.ratelimit import client_address

from .services import invalid_token_limit, token_authenticate, token_of_inactive_user


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token header parsing, with Coloria's hashed, revocable tokens instead of DRF's
    plain-text authtoken table. (A subclass, so drf-spectacular documents the scheme.)"""

    keyword = "Token"
    # Many HTTP clients send any API key as a bearer token; the key is the same either way.
    also_accepted = ("Bearer",)

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        self.address = client_address(request)
        parts = get_authorization_header(request).split()
        if parts and parts[0].lower() in {k.lower().encode() for k in self.also_accepted}:
            if len(parts) != 2:
                raise AuthenticationFailed("Invalid token header: give `Bearer <key>`.")
            return self.authenticate_credentials(parts[1].decode("latin-1"))
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = token_authenticate(key)
        if token is None:
            # Guessing keys (or a script with a stale one hammering the API) is slowed per
            # address; valid tokens from the same address keep working.
            limit, address = invalid_token_limit(), getattr(self, "address", "")
            if limit.exceeded(address):
                raise Throttled(
                    wait=limit.retry_after(address),
                    detail="Too many requests with invalid tokens from this address.",
                )
            limit.hit(address)
            if token_of_inactive_user(key):  # say why, so a script's owner knows what to do
                raise AuthenticationFailed(
                    "This account is suspended or deactivated: its tokens do not work."
                )
            raise AuthenticationFailed("Invalid or revoked token.")
        return token.user, token
