"""Production settings: `check --deploy` is clean with the documented variables, and no process
that serves or works starts with the secret key published in the code."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the README's production section tells an operator to set.
PRODUCTION = {
    "COLORIA_SECRET_KEY": secrets.token_urlsafe(50),
    "COLORIA_ALLOWED_HOSTS": "coloria.example",
    "COLORIA_CSRF_TRUSTED_ORIGINS": "https://coloria.example",
    "COLORIA_HTTPS": "true",
    "COLORIA_TRUSTED_PROXIES": "1",
}


def run(code_or_command: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COLORIA_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # tests only
    }
    environment.update(env, COLORIA_DATA_DIR=os.environ.get("COLORIA_DATA_DIR", str(ROOT / "var")))
    return subprocess.run(
        [sys.executable, *code_or_command], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_check_deploy_is_clean_with_the_documented_production_variables():
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_without_a_secret_key_nothing_starts():
    done = run(["manage.py", "check"])
    assert done.returncode != 0 and "coloria.E001" in done.stderr
    assert "COLORIA_SECRET_KEY is not set" in done.stderr
    served = run(["-c", "import coloria_site.wsgi"])
    assert served.returncode != 0 and "ImproperlyConfigured" in served.stderr
    # Debugging on one's own machine needs no key.
    assert run(["manage.py", "check"], COLORIA_DEBUG="true").returncode == 0


def test_https_settings_follow_the_variables():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'coloria_site.settings'; "
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    assert run(["-c", code], **PRODUCTION).stdout.split() == [
        "True", "True", "True", "31536000", "('HTTP_X_FORWARDED_PROTO',", "'https')",
    ]  # fmt: skip
    plain = run(["-c", code.replace(", s.SECURE_PROXY_SSL_HEADER", "")])
    assert plain.stdout.split() == ["False", "False", "False", "0"]


@pytest.mark.django_db
def test_sqlite_connections_are_kept_only_when_asked():
    """scripts/serve asks for it in its web server (60 s); a queue worker forks and keeps none."""
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'coloria_site.settings'; "
        "from django.conf import settings as s; print(s.DATABASES['default']['CONN_MAX_AGE'])"
    )
    sqlite = {"DATABASE_URL": ""}  # the embedded default, also in CI's PostgreSQL pass
    assert run(["-c", code], **sqlite).stdout.strip() == "0"
    assert run(["-c", code], COLORIA_DB_CONN_MAX_AGE="60", **sqlite).stdout.strip() == "60"


def test_links_behind_a_tls_proxy_say_https(settings, api_client, make_user, colorize_photos):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ann = make_user("ann")
    colorize_photos(owner=ann)
    response = api_client(ann).get("/api/v1/jobs", headers={"X-Forwarded-Proto": "https"})
    (job,) = response.json()["results"]
    assert job["url"].startswith("https://")


def test_an_api_rate_can_be_turned_off():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'coloria_site.settings'; "
        "from django.conf import settings as s; "
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    )
    done = run(["-c", code], COLORIA_DEBUG="true", COLORIA_API_READ_RATE="off")
    assert done.returncode == 0, done.stderr
    assert "'read': None" in done.stdout and "'submit': '20/minute'" in done.stdout
