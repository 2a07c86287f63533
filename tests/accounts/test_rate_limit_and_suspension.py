"""Failed sign-ins are rate-limited per name and per address (site and admin alike); a suspended
account cannot sign in, is told why, and loses its sessions and tokens until reinstated."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import AccountStatus
from colorize.models import Job, ModerationAction
from colorize.services import errors, submission
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def sign_in(client: Client, login: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        reverse("accounts:login"),
        {"username": login, "password": password},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def limits(settings):
    settings.COLORIA_LOGIN_MAX_FAILURES = 3
    settings.COLORIA_LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    settings.COLORIA_LOGIN_WINDOW_MINUTES = 15
    return settings


def test_too_many_failures_for_a_name_pause_its_sign_in(client, make_user, limits):
    make_user("ann")
    for _ in range(3):
        assert sign_in(client, "ann@example.com", "wrong").status_code == 400
    # Even the right password waits now, from any address, with a clear message.
    refused = sign_in(Client(), "ANN@example.com", "pw-horse", address="10.9.9.9")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in text(refused)
    assert "try again in 15 minutes" in text(refused)
    assert "_auth_user_id" not in refused.client.session
    # Another account is not affected.
    make_user("bob")
    assert sign_in(Client(), "bob@example.com", "pw-horse").status_code == 302


def test_the_pause_ends_with_its_window(client, make_user, limits):
    make_user("ann")
    for _ in range(3):
        sign_in(client, "ann@example.com", "wrong")
    assert sign_in(client, "ann@example.com", "pw-horse").status_code == 429
    cache.clear()  # what the window's expiry does to the counters
    assert sign_in(client, "ann@example.com", "pw-horse").status_code == 302


def test_a_success_forgives_the_names_earlier_failures(client, make_user, limits):
    make_user("ann")
    for _ in range(2):
        sign_in(client, "ann@example.com", "wrong")
    assert sign_in(client, "ann@example.com", "pw-horse").status_code == 302
    for _ in range(2):
        assert sign_in(Client(), "ann@example.com", "wrong").status_code == 400


def test_one_address_guessing_many_names_is_paused(make_user, limits):
    make_user("ann")
    for number in range(5):
        sign_in(Client(), f"guess{number}@example.com", "wrong", address="10.6.6.6")
    refused = sign_in(Client(), "ann@example.com", "pw-horse", address="10.6.6.6")
    assert refused.status_code == 429
    # The same account from another address is fine.
    assert sign_in(Client(), "ann@example.com", "pw-horse", address="10.1.1.1").status_code == 302


def test_forwarded_addresses_count_only_behind_trusted_proxies(make_user, limits):
    make_user("ann")
    for number in range(5):
        Client().post(
            reverse("accounts:login"),
            {"username": f"guess{number}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",  # forged: not trusted by default
        )
    blocked = sign_in(Client(), "ann@example.com", "pw-horse", address="10.0.0.1")
    assert blocked.status_code == 429
    limits.COLORIA_TRUSTED_PROXIES = 1
    cache.clear()
    for number in range(5):
        Client().post(
            reverse("accounts:login"),
            {"username": f"guess{number}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR="192.0.2.7",
        )
    other_client = Client().post(
        reverse("accounts:login"),
        {"username": "ann@example.com", "password": "pw-horse"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.8",
    )
    assert other_client.status_code == 302


def test_the_admin_sign_in_is_rate_limited_too(make_user, limits):
    make_user("mod", is_staff=True)
    for _ in range(3):
        Client().post(
            reverse("admin:login"),
            {"username": "mod@example.com", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
        )
    refused = Client().post(
        reverse("admin:login"),
        {"username": "mod@example.com", "password": "pw-horse"},
        REMOTE_ADDR="10.0.0.3",
    )
    assert refused.status_code == 200 and "Too many failed sign-in attempts" in text(refused)
    assert "_auth_user_id" not in refused.client.session


def test_the_limit_stops_client_login_and_authenticate_as_well(make_user, limits):
    make_user("ann")
    for _ in range(3):
        assert not Client().login(username="ann@example.com", password="wrong")
    assert not Client().login(username="ann@example.com", password="pw-horse")


# --- Suspension ---------------------------------------------------------------------------------


@pytest.fixture
def moderator(make_user):
    return make_user("mod", is_staff=True)


def test_a_suspended_account_is_told_why_it_cannot_sign_in(make_user, moderator):
    ann = make_user("ann")
    assert services.suspend_user(user=ann, moderator=moderator, reason="Spam <uploads>")
    response = sign_in(Client(), "ann@example.com", "pw-horse")
    assert response.status_code == 403
    page = text(response)
    assert "suspended by a moderator" in page and "Spam &lt;uploads&gt;" in page
    assert "photos are kept" in page
    # A wrong password learns nothing about the suspension.
    wrong = sign_in(Client(), "ann@example.com", "not-it")
    assert "suspended" not in text(wrong) and "do not match an account" in text(wrong)


def test_suspension_ends_sessions_tokens_and_submissions_and_keeps_content(
    client, make_user, moderator, colorize_photos
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    _, key = services.token_create(ann, "script")
    api = Client(headers={"Authorization": f"Token {key}"})
    client.force_login(ann)
    assert client.get(reverse("colorize:history")).status_code == 200
    assert api.get(reverse("api:jobs")).status_code == 200

    services.suspend_user(user=ann, moderator=moderator, reason="abuse")
    ann.refresh_from_db()
    assert not ann.is_active and services.is_suspended(ann)
    # The open session no longer signs in: pages that need an account send to sign-in.
    assert client.get(reverse("colorize:history")).status_code == 302
    assert client.get(reverse("colorize:job", args=[job.id])).status_code == 404
    assert api.get(reverse("api:jobs")).status_code == 401
    photo = encode(make_photo())
    from django.core.files.uploadedfile import SimpleUploadedFile

    submitted = api.post(
        reverse("api:jobs"),
        {"images": [SimpleUploadedFile("p.png", photo)], "model": "zhang-eccv16"},
    )
    assert submitted.status_code == 401
    with pytest.raises(errors.SubmissionError, match="suspended"):
        submission.job_submit(
            files=[SimpleUploadedFile("p.png", photo)], model_key="zhang-eccv16", owner=ann
        )
    # Password reset does not reopen it either.
    from django.core import mail

    Client().post(reverse("accounts:password-reset"), {"email": "ann@example.com"})
    assert mail.outbox == []
    # Content is kept.
    assert Job.objects.filter(pk=job.pk, owner=ann).exists()

    assert services.reinstate_user(user=ann, moderator=moderator, reason="appeal accepted")
    ann.refresh_from_db()
    assert ann.is_active and not services.is_suspended(ann)
    assert api.get(reverse("api:jobs")).status_code == 200
    assert sign_in(Client(), "ann@example.com", "pw-horse").status_code == 302
    actions = list(ModerationAction.objects.order_by("created_at").values_list("action", "reason"))
    assert actions == [("suspend", "abuse"), ("reinstate", "appeal accepted")]


def test_suspend_and_reinstate_are_idempotent_and_need_a_reason(make_user, moderator):
    ann = make_user("ann")
    with pytest.raises(services.AccountError, match="reason"):
        services.suspend_user(user=ann, moderator=moderator, reason="  ")
    assert not services.is_suspended(ann) and ann.is_active
    assert not ModerationAction.objects.exists()
    assert services.suspend_user(user=ann, moderator=moderator, reason="spam")
    assert not services.suspend_user(user=ann, moderator=moderator, reason="again")
    assert ModerationAction.objects.count() == 1
    status = AccountStatus.objects.get(user=ann)
    assert status.suspended_by == moderator and status.suspended_reason == "spam"
    assert services.reinstate_user(user=ann, moderator=moderator, reason="ok")
    assert not services.reinstate_user(user=ann, moderator=moderator, reason="ok")
    assert not services.reinstate_user(user=make_user("bob"), moderator=moderator, reason="x")


def test_who_may_suspend_whom(make_user, moderator, django_user_model):
    ann = make_user("ann")
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-horse")
    with pytest.raises(services.AccountError, match="Only staff"):
        services.suspend_user(user=moderator, moderator=ann, reason="revenge")
    with pytest.raises(services.AccountError, match="your own account"):
        services.suspend_user(user=moderator, moderator=moderator, reason="oops")
    with pytest.raises(services.AccountError, match="Only a superuser"):
        services.suspend_user(user=root, moderator=moderator, reason="coup")
    assert services.suspend_user(user=moderator, moderator=root, reason="rogue moderator")
    assert not ModerationAction.objects.exclude(moderator=root).exists()


def test_a_deactivated_but_not_suspended_account_is_told_so(django_user_model):
    django_user_model.objects.create_user(
        "old", email="old@example.com", password="pw-horse", is_active=False
    )
    response = sign_in(Client(), "old@example.com", "pw-horse")
    assert response.status_code == 403 and "deactivated" in text(response)
