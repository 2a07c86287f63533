"""Password reset by email, end to end through the locmem mail backend; password change; the
email settings (console by default, SMTP from the environment)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "brand-new-Colour-phrase-7"
ROOT = Path(__file__).resolve().parents[2]


def text(response) -> str:
    return " ".join(response.content.decode().split())


def reset_link(message) -> str:
    found = re.search(
        r"https?://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body
    )
    assert found, message.body
    return found.group(1)


def test_password_reset_end_to_end(client, make_user):
    ann = make_user("ann")
    response = client.post(reverse("accounts:password-reset"), {"email": "ANN@example.com"})
    assert response.url == reverse("accounts:password-reset-done")
    assert "Check your email" in text(client.get(response.url))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == "Reset your Coloria password"
    assert message.from_email  # DEFAULT_FROM_EMAIL
    link = reset_link(message)

    # The link leads to the form (Django moves the token into the session first).
    landing = client.get(link)
    assert landing.status_code == 302
    form_page = client.get(landing.url)
    assert "Choose a new password" in text(form_page) and 'name="new_password1"' in text(form_page)

    mismatch = client.post(
        landing.url, {"new_password1": NEW_PASSWORD, "new_password2": "something-else"}
    )
    assert mismatch.status_code == 200 and "didn’t match" in text(mismatch)
    weak = client.post(landing.url, {"new_password1": "123", "new_password2": "123"})
    assert "too short" in text(weak)

    done = client.post(landing.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.url == reverse("accounts:password-reset-complete")
    assert "Your new password is set" in text(client.get(done.url))
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD) and not ann.check_password("pw-horse")

    # The new password signs in; the old one does not; the link works only once.
    assert not Client().login(username="ann@example.com", password="pw-horse")
    assert Client().login(username="ann@example.com", password=NEW_PASSWORD)
    again = Client().get(link, follow=True)
    assert "This link does not work" in text(again)


def test_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("accounts:password-reset-done")
    assert mail.outbox == []


def test_reset_refuses_a_malformed_address_clearly(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address" in text(response) and 'role="alert"' in text(response)


def test_a_tampered_reset_link_is_refused_politely(client, make_user):
    make_user("ann")
    client.post(reverse("accounts:password-reset"), {"email": "ann@example.com"})
    link = reset_link(mail.outbox[0])
    broken = link.rstrip("/")[:-3] + "xyz/"
    page = text(client.get(broken, follow=True))
    assert "This link does not work" in page and "Ask for a new link" in page
    garbage = client.get("/accounts/password/reset/%%%/abc/", follow=True)
    assert garbage.status_code in (200, 404)


def test_a_reset_lifts_the_sign_in_pause(client, make_user, settings):
    settings.COLORIA_LOGIN_MAX_FAILURES = 2
    make_user("ann")
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": "ann@example.com", "password": "x"})
    assert not Client().login(username="ann@example.com", password="pw-horse")
    client.post(reverse("accounts:password-reset"), {"email": "ann@example.com"})
    landing = client.get(reset_link(mail.outbox[0]))
    client.post(landing.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert Client().login(username="ann@example.com", password=NEW_PASSWORD)


def test_password_change_keeps_the_session(client, make_user):
    ann = make_user("ann")
    client.force_login(ann)
    url = reverse("accounts:password-change")
    assert "Change your password" in text(client.get(url))
    wrong = client.post(
        url,
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and "old password was entered incorrectly" in text(wrong)
    response = client.post(
        url,
        {"old_password": "pw-horse", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.url == reverse("accounts:profile")
    assert "Your password is changed" in text(client.get(response.url))  # still signed in
    ann.refresh_from_db()
    assert ann.check_password(NEW_PASSWORD)


def test_password_change_needs_an_account(client):
    response = client.get(reverse("accounts:password-change"))
    assert response.url.startswith(reverse("accounts:login"))


def _settings_in_a_fresh_process(**env: str) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: str(getattr(settings, k, '')) for k in ("
        "'EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD', "
        "'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'DEFAULT_FROM_EMAIL', 'LOGIN_URL')}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COLORIA_EMAIL")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "coloria_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode:
        return {"error": result.stderr}
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_email_settings_come_from_the_environment(tmp_path):
    default = _settings_in_a_fresh_process()
    assert default["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert default["LOGIN_URL"] == "accounts:login"
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    smtp = _settings_in_a_fresh_process(
        COLORIA_EMAIL_HOST="smtp.example.org",
        COLORIA_EMAIL_PORT="2525",
        COLORIA_EMAIL_USER="coloria",
        COLORIA_EMAIL_PASSWORD_FILE=str(secret),
        COLORIA_FROM_EMAIL="Coloria <photos@example.org>",
    )
    assert smtp["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert smtp["EMAIL_HOST"] == "smtp.example.org" and smtp["EMAIL_PORT"] == "2525"
    assert smtp["EMAIL_HOST_USER"] == "coloria" and smtp["EMAIL_HOST_PASSWORD"] == "s3cret"
    assert smtp["EMAIL_USE_TLS"] == "True" and smtp["EMAIL_USE_SSL"] == "False"
    assert smtp["DEFAULT_FROM_EMAIL"] == "Coloria <photos@example.org>"
    both = _settings_in_a_fresh_process(
        COLORIA_EMAIL_HOST="smtp.example.org", COLORIA_EMAIL_USE_SSL="true"
    )
    assert "cannot both be true" in both["error"]
    bad_port = _settings_in_a_fresh_process(
        COLORIA_EMAIL_HOST="smtp.example.org", COLORIA_EMAIL_PORT="smtp"
    )
    assert "COLORIA_EMAIL_PORT must be an integer" in bad_port["error"]
