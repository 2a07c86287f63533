"""Rate limits in two scopes: `submit` for requests that queue model runs (they cost CPU or GPU
time), `read` for everything else. A signed-in caller is counted per user, others per address."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ScopeRateThrottle(SimpleRateThrottle):
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_rate(self) -> str | None:
        # Read at request time: DRF's class attribute is bound at import and misses later changes
        # of the setting. A scope without a rate is not limited.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
