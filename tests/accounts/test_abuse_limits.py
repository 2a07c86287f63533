"""Limits on what one client can make Coloria do: accounts per address, reset emails per address
and per inbox, invalid API tokens per address; the account quota only once an email address is
verified; and a sign-in pause that a stranger cannot turn against the account's own browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts import services
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def sign_up(client: Client, email: str, address: str = "10.0.0.1"):
    password = "a-Long-enough-passphrase-42"
    return client.post(
        reverse("accounts:signup"),
        {"email": email, "password1": password, "password2": password},
        REMOTE_ADDR=address,
    )


def sign_in(client: Client, login: str, password: str = "pw-horse", address: str = "10.0.0.1"):
    return client.post(
        reverse("accounts:login"), {"username": login, "password": password}, REMOTE_ADDR=address
    )


# --- Sign-up ----------------------------------------------------------------------------------


def test_one_address_may_make_a_few_accounts_an_hour(settings, django_user_model):
    settings.COLORIA_SIGNUPS_PER_ADDRESS = 3
    for number in range(3):
        assert sign_up(Client(), f"u{number}@example.com").status_code == 302
    refused = sign_up(Client(), "u9@example.com")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many accounts were made from your network" in text(refused)
    assert django_user_model.objects.count() == 3
    assert sign_up(Client(), "u9@example.com", address="10.0.0.2").status_code == 302


def test_a_new_account_has_the_anonymous_quota_until_its_email_is_verified(settings):
    settings.COLORIA_DAILY_JOBS_PER_ANONYMOUS = 1
    settings.COLORIA_DAILY_JOBS_PER_USER = 3
    settings.COLORIA_SYNC_JOBS = False
    client = Client()
    assert sign_up(client, "new@example.com").status_code == 302
    (email,) = mail.outbox
    assert email.to == ["new@example.com"]
    link = re.search(r"https?://\S+/accounts/verify/\S+/", email.body).group(0)

    def send():
        photo = SimpleUploadedFile("p.png", encode(make_photo()))
        return client.post(reverse("colorize:home"), {"images": [photo], "model": "zhang-eccv16"})

    assert send().status_code == 302
    refused = send()
    assert refused.status_code == 429
    assert "verifies its email address" in text(refused)
    page = text(client.get(reverse("accounts:profile")))
    assert "not verified" in page and "Email me a new link" in page

    assert client.get(link).status_code == 302
    assert "is verified" in text(client.get(reverse("accounts:profile")))
    assert send().status_code == 302 and send().status_code == 302  # 3 a day now
    assert send().status_code == 429


def test_a_broken_or_foreign_verification_link_is_refused_politely(make_user):
    ann = make_user("ann", verified=False)
    client = Client()
    client.force_login(ann)
    response = client.get("/accounts/verify/not-a-real-token/", follow=True)
    assert "This link is not valid" in text(response)
    assert not services.email_verified(ann)


def test_verification_emails_to_one_inbox_are_limited(settings, make_user):
    settings.COLORIA_EMAILS_PER_INBOX = 2
    ann = make_user("ann", verified=False)
    client = Client()
    client.force_login(ann)
    for _ in range(4):
        client.post(reverse("accounts:verify-email-resend"))
    assert len(mail.outbox) == 2
    assert "several emails to this address" in text(client.get(reverse("accounts:profile")))


# --- Password reset ---------------------------------------------------------------------------


def ask_reset(email: str, address: str = "10.0.0.1"):
    return Client().post(reverse("accounts:password-reset"), {"email": email}, REMOTE_ADDR=address)


def test_reset_emails_to_one_inbox_are_limited_without_telling_who_has_an_account(
    settings, make_user
):
    settings.COLORIA_EMAILS_PER_INBOX = 3
    make_user("ann")
    for number in range(20):  # from many addresses, as a botnet would
        response = ask_reset("ann@example.com", address=f"10.1.0.{number}")
        assert response.status_code == 302  # always the same answer
    assert len(mail.outbox) == 3


def test_reset_requests_from_one_address_are_limited(settings, make_user):
    settings.COLORIA_RESETS_PER_ADDRESS = 4
    for number in range(4):
        assert ask_reset(f"x{number}@example.com", address="10.2.0.1").status_code == 302
    refused = ask_reset("x9@example.com", address="10.2.0.1")
    assert refused.status_code == 429 and "Too many password resets" in text(refused)
    assert ask_reset("x9@example.com", address="10.2.0.2").status_code == 302


# --- Invalid API tokens -----------------------------------------------------------------------


def test_invalid_tokens_from_one_address_are_throttled_and_valid_ones_still_work(
    settings, make_user, api_client
):
    settings.COLORIA_INVALID_TOKENS_PER_ADDRESS = 5
    guesser = Client(headers={"Authorization": "Token guessed-key"})
    for _ in range(5):
        assert guesser.get("/api/v1/jobs").status_code == 401
    throttled = guesser.get("/api/v1/jobs")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "invalid tokens" in throttled.json()["detail"]
    assert api_client(make_user("ann")).get("/api/v1/jobs").status_code == 200


# --- The sign-in pause and the account's own browser --------------------------------------------


@pytest.fixture
def limits(settings):
    settings.COLORIA_LOGIN_MAX_FAILURES = 3
    settings.COLORIA_LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    settings.COLORIA_LOGIN_MAX_FAILURES_PER_DEVICE = 4
    return settings


def test_a_stranger_cannot_lock_the_owner_out_of_a_browser_they_signed_in_with(make_user, limits):
    make_user("ann", is_staff=True)
    own_browser = Client()
    assert sign_in(own_browser, "ann@example.com").status_code == 302
    assert services.DEVICE_COOKIE in own_browser.cookies
    own_browser.post(reverse("accounts:logout"))

    stranger = Client()
    for _ in range(3):
        assert sign_in(stranger, "ann@example.com", "guess", address="10.6.6.6").status_code == 400
    # The name is paused for everyone else, the right password included ...
    assert sign_in(Client(), "ann@example.com", address="10.7.7.7").status_code == 429
    # ... but not for the browser Ann signed in with before, behind the same address or not.
    assert sign_in(own_browser, "ann@example.com", address="10.6.6.6").status_code == 302


def test_a_shared_address_paused_by_one_user_does_not_stop_the_others_known_browsers(
    make_user, limits
):
    make_user("bob")
    bob = Client()
    sign_in(bob, "bob@example.com", address="10.8.8.8")
    bob.post(reverse("accounts:logout"))
    for number in range(5):  # someone behind the same NAT guessing names
        sign_in(Client(), f"g{number}@example.com", "x", address="10.8.8.8")
    assert sign_in(Client(), "bob@example.com", address="10.8.8.8").status_code == 429
    assert sign_in(bob, "bob@example.com", address="10.8.8.8").status_code == 302


def test_a_known_browser_has_a_failure_limit_of_its_own(make_user, limits):
    make_user("ann")
    browser = Client()
    sign_in(browser, "ann@example.com")
    browser.post(reverse("accounts:logout"))
    for _ in range(4):
        assert sign_in(browser, "ann@example.com", "wrong").status_code == 400
    assert sign_in(browser, "ann@example.com").status_code == 429
    # Its failures did not pause the account for others.
    assert sign_in(Client(), "ann@example.com", address="10.3.3.3").status_code == 302


def test_the_device_cookie_is_for_one_account_and_cannot_be_forged(make_user, limits):
    make_user("ann")
    make_user("eve")
    eve = Client()
    sign_in(eve, "eve@example.com")
    eve.post(reverse("accounts:logout"))
    for _ in range(3):
        sign_in(Client(), "ann@example.com", "wrong", address="10.4.4.4")
    # Eve's device cookie is Eve's: it does not open Ann's paused account ...
    assert sign_in(eve, "ann@example.com", address="10.5.5.5").status_code == 429
    # ... and a made-up one is ignored.
    forger = Client()
    forger.cookies[services.DEVICE_COOKIE] = "1:made-up"
    assert sign_in(forger, "ann@example.com", address="10.5.5.6").status_code == 429


def test_the_admin_sign_in_also_remembers_the_browser(make_user, limits):
    make_user("mod", is_staff=True)
    browser = Client()
    response = browser.post(
        reverse("admin:login"), {"username": "mod@example.com", "password": "pw-horse"}
    )
    assert response.status_code == 302
    assert services.DEVICE_COOKIE in browser.cookies
