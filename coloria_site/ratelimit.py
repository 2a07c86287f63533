"""Counting requests per client or per target in the cache, and where they come from.

A `Limit` is a fixed window: the first hit starts it, and up to `limit` hits fit in it. Keys are
hashed (any input is a safe cache key, and the cache holds no names or addresses). The embedded
setup's cache is per process, which suits its single web process; production shares Redis.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address: REMOTE_ADDR, or the address the trusted proxies saw."""
    if request is None:
        return ""
    proxies = settings.COLORIA_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


@dataclass(frozen=True)
class Limit:
    scope: str  # what is counted, e.g. "signup-address"
    limit: int
    window: int  # seconds

    def _keys(self, identity: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"{self.scope}:{identity}".encode()).hexdigest()
        return f"coloria:limit:{digest}", f"coloria:limit-start:{digest}"

    def count(self, identity: str) -> int:
        if not identity:
            return 0
        return cache.get(self._keys(identity)[0], 0)

    def exceeded(self, identity: str) -> bool:
        """Whether this identity used up its window (no identity: never)."""
        return bool(identity) and self.count(identity) >= self.limit

    def hit(self, identity: str) -> int:
        """Count one more; returns the count in the window."""
        if not identity:
            return 0
        counter, started = self._keys(identity)
        if cache.add(counter, 0, self.window):
            cache.set(started, time.time(), self.window)
        try:
            return cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, self.window)
            cache.set(started, time.time(), self.window)
            return 1

    def clear(self, identity: str) -> None:
        if identity:
            cache.delete_many(list(self._keys(identity)))

    def retry_after(self, identity: str) -> int:
        """Seconds until the window ends (at most the whole window)."""
        started = cache.get(self._keys(identity)[1]) if identity else None
        if started is None:
            return self.window
        return max(1, math.ceil(started + self.window - time.time()))


def minutes(seconds: int) -> str:
    """ "about 12 minutes" / "about a minute", for messages."""
    count = max(1, math.ceil(seconds / 60))
    return "about a minute" if count == 1 else f"about {count} minutes"
