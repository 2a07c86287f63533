"""Job callbacks: when a job ends, POST its status JSON to the URL its owner gave, signed.

Callback URLs come from users and are fetched by the server, so they are checked like any
server-side request: https only, every resolved address public (unless
COLORIA_CALLBACK_ALLOW_PRIVATE), connecting to the address that was checked (no second lookup
for DNS rebinding), no redirects, a short timeout and a few retries with back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.crypto import salted_hmac

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Coloria-Signature"
TIMEOUT_SECONDS = 5
BACKOFF_SECONDS = (1.0, 4.0)  # waits between the attempts: three attempts in all


class RefusedTarget(Exception):
    """A callback URL the server will not call; the message says why, for the user."""


def resolve_target(url: str) -> str:
    """The address to connect to for `url`, or RefusedTarget."""
    allow_private = settings.COLORIA_CALLBACK_ALLOW_PRIVATE
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise RefusedTarget("The callback URL must use https.")
    if not parts.hostname or parts.username or parts.password:
        raise RefusedTarget("The callback URL must name a host (and no credentials).")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise RefusedTarget(f"The callback host {parts.hostname} could not be resolved.") from None
    addresses = [info[4][0].split("%")[0] for info in found]  # no IPv6 zone
    if not allow_private and not all(ipaddress.ip_address(a).is_global for a in addresses):
        raise RefusedTarget("The callback URL must resolve to public addresses only.")
    return addresses[0]


def callback_secret(user: Any) -> str:
    """The key a user's callbacks are signed with: derived from SECRET_KEY and the user, so it
    needs no storage (rotating SECRET_KEY rotates it)."""
    return salted_hmac("coloria.callbacks", str(user.pk), algorithm="sha256").hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, address: str, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)

    # Connect to the checked address; the Host header and TLS still use the hostname.
    def connect_checked(target: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((address, target[1]), *args, **kwargs)

    connection._create_connection = connect_checked
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status  # http.client never follows redirects
    finally:
        connection.close()


def deliver(url: str, body: bytes, secret: str) -> bool:
    """POST `body` (JSON) to `url`; True once it answered 2xx. Retries network errors, 5xx and
    429; a refused target or another answer (redirects included) ends the delivery."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Coloria-Callback/1",
        SIGNATURE_HEADER: signature(secret, body),
    }
    for attempt, wait in enumerate((0.0, *BACKOFF_SECONDS), start=1):
        time.sleep(wait)
        try:
            status = _post(url, resolve_target(url), body, headers)
        except RefusedTarget as exc:
            log.warning("callback to %s refused: %s", url, exc)
            return False
        except (OSError, http.client.HTTPException) as exc:
            log.info("callback to %s failed (attempt %d): %s", url, attempt, exc)
            continue
        if 200 <= status < 300:
            return True
        if status < 500 and status != 429:
            log.warning("callback to %s answered %d; not retried", url, status)
            return False
        log.info("callback to %s answered %d (attempt %d)", url, status, attempt)
    return False


def notify_finished(job: Any) -> None:
    """Queue the delivery of a finished job's callback (a task: retries must not hold up the
    worker's next job, nor the request that ran it)."""
    if not job.callback_url:
        return
    from django.db import transaction
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "colorize.tasks.deliver_callback",
            str(job.pk),
            task_name=f"callback-{job.pk}",
            sync=settings.COLORIA_SYNC_JOBS,
        )
    )
