"""Health probes for load balancers and supervisors: `/healthz` (the process answers) and
`/readyz` (it can do its work: the database answers, the queue's broker answers, a worker was
seen lately). Both are JSON, unauthenticated and cheap.

They are answered by a middleware placed before all others: a probe comes over plain HTTP (no
HTTPS redirect), often with the machine's address as its Host (no ALLOWED_HOSTS refusal), and
needs no session, CSRF cookie or page headers. Their answers carry no data of anyone's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

HEALTH_PATHS = ("/healthz", "/readyz")
# Where /readyz remembers the last time it saw a worker (the cache django-q2 keeps its cluster
# status in, shared by every web process of the site).
WORKER_SEEN_KEY = "coloria:health:worker-seen"
BROKER_TIMEOUT_SECONDS = 2


def check_database() -> str | None:
    """None when a trivial query works, else what went wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"the database does not answer ({type(exc).__name__})"
    return None


def _broker() -> Any:
    from django_q.brokers import get_broker

    return get_broker()


def _ping(broker: Any) -> bool:
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    if isinstance(broker, Redis) and isinstance(Conf.REDIS, str):
        # django-q2's own connection waits for ever on a host that drops packets; a probe must
        # answer within its timeout.
        import redis

        client = redis.from_url(
            Conf.REDIS,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    return bool(broker.ping())


def check_broker(broker: Any) -> tuple[str | None, int | None]:
    """(None, tasks waiting) when the queue's broker answers, else (what went wrong, None)."""
    try:
        if not _ping(broker):
            return "the queue broker does not answer", None
        return None, int(broker.queue_size() or 0)
    except Exception as exc:
        return f"the queue broker does not answer ({type(exc).__name__})", None


def check_worker(broker: Any, now: float | None = None) -> tuple[str | None, float | None]:
    """(None, seconds since a worker was last seen) when one was seen within
    COLORIA_READY_WORKER_SECONDS, else (what went wrong, seconds or None if never).

    django-q2's clusters save their status every half second with a few seconds' lifetime
    (`Stat.get_all`); /readyz remembers when it last saw one, so a worker being recycled or
    restarted does not take the site out of its load balancer at once."""
    from django_q.conf import Conf
    from django_q.status import Stat

    now = time.time() if now is None else now
    try:
        running = [stat for stat in Stat.get_all(broker=broker) if stat.status != Conf.STOPPED]
    except Exception as exc:
        return f"the workers' status cannot be read ({type(exc).__name__})", None
    cache = caches[getattr(Conf, "CACHE", "default")]
    if running:
        cache.set(WORKER_SEEN_KEY, now, None)
        return None, 0.0
    seen = cache.get(WORKER_SEEN_KEY)
    ago = None if seen is None else round(max(0.0, now - seen), 1)
    limit = settings.COLORIA_READY_WORKER_SECONDS
    if ago is not None and ago <= limit:
        return None, ago
    return f"no worker seen within {limit} seconds (start one: python manage.py qcluster)", ago


def readiness() -> tuple[bool, dict[str, Any]]:
    """Whether the site is ready, and the JSON that says so (or which check failed)."""
    checks: dict[str, Any] = {}
    failed: list[str] = []
    problem = check_database()
    checks["database"] = {"ok": problem is None, **({"error": problem} if problem else {})}
    if problem:
        failed.append("database")
    broker = None
    try:
        broker = _broker()
    except Exception as exc:
        problem, queued = f"the queue broker cannot be set up ({type(exc).__name__})", None
    else:
        problem, queued = check_broker(broker)
    checks["broker"] = {"ok": problem is None}
    checks["broker"].update({"error": problem} if problem else {"queued": queued})
    if problem:
        failed.append("broker")
    if broker is None or problem:
        # Cluster status lives with the broker (Redis) or its cache: unknown while it is down.
        checks["worker"] = {"ok": False, "error": "unknown while the broker does not answer"}
        failed.append("worker")
    else:
        problem, ago = check_worker(broker)
        checks["worker"] = {"ok": problem is None, "seen_seconds_ago": ago}
        if problem:
            checks["worker"]["error"] = problem
            failed.append("worker")
    body = {"status": "ok" if not failed else "unavailable", "failed": failed, "checks": checks}
    return not failed, body


def _json(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class HealthCheckMiddleware:
    """Answers /healthz and /readyz before the rest of the stack runs (see the module's doc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/") or "/"
        if path not in HEALTH_PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _json({"error": "Use GET."}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        if path == "/healthz":
            return _json({"status": "ok"})
        ready, body = readiness()  # Django logs a 503 with its path; the body says why
        return _json(body, status=200 if ready else 503)
