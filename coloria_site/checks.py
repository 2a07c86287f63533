"""Start-up checks of the site's configuration that Django's own checks do not make."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MISSING_KEY_MESSAGE = (
    "COLORIA_SECRET_KEY is not set and COLORIA_DEBUG is off: sessions, password-reset links and "
    "API callback signatures would all derive from a key published with Coloria's code. Set "
    "COLORIA_SECRET_KEY (or COLORIA_SECRET_KEY_FILE), the same on every machine, e.g. from: "
    "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)


def secret_key_problem() -> str | None:
    if getattr(settings, "COLORIA_SECRET_KEY_MISSING", False) and not settings.DEBUG:
        return MISSING_KEY_MESSAGE
    return None


# The commands that serve or work (and `check`, to see it coming). Others, such as migrate or
# fetch_weights, use no key and may run on a machine that has none yet.
COMMANDS_THAT_NEED_THE_KEY = ("runserver", "qcluster", "check")


@checks.register(checks.Tags.security)
def check_secret_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """runserver, qcluster and check refuse to go on without a key of the site's own."""
    problem = secret_key_problem()
    if not problem or (sys.argv[1:2] and sys.argv[1] not in COMMANDS_THAT_NEED_THE_KEY):
        return []
    return [checks.Error(problem, id="coloria.E001")]


def refuse_to_serve_without_secret_key() -> None:
    """For wsgi.py and asgi.py: production servers (gunicorn, uvicorn) run no system checks."""
    problem = secret_key_problem()
    if problem:
        raise ImproperlyConfigured(problem)


def worker_queue_problem() -> str | None:
    """A qcluster process serves one queue: with the GPU queue split off, a worker must say
    which of the two it serves."""
    if settings.COLORIA_GPU_QUEUE and set(settings.COLORIA_WORKER_QUEUES) == {"cpu", "gpu"}:
        return (
            "COLORIA_GPU_QUEUE is on, so jobs wait in two queues, and one qcluster process serves "
            "one: set COLORIA_WORKER_QUEUES=cpu or COLORIA_WORKER_QUEUES=gpu for this worker (run "
            "one of each on a machine that should serve both), or turn COLORIA_GPU_QUEUE off."
        )
    return None


@checks.register()
def check_worker_queues(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """qcluster refuses to start when it could not serve every queue it is told to."""
    problem = worker_queue_problem()
    if not problem or sys.argv[1:2] != ["qcluster"]:
        return []
    return [checks.Error(problem, id="coloria.Q001")]
