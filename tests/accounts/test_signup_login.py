"""Sign-up, sign-in (by email or username), sign-out, and the navigation that leads there."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Colour-phrase-42"


def text(response) -> str:
    return " ".join(response.content.decode().split())


def signed_in_user(client: Client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


def test_sign_up_creates_an_account_and_signs_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {"email": " Ann@Example.COM ", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response.url == reverse("colorize:home")
    user = get_user_model().objects.get()
    assert user.email == "ann@example.com" and user.get_username() == "ann@example.com"
    assert user.check_password(PASSWORD) and user.is_active and not user.is_staff
    assert signed_in_user(client) == user
    page = text(client.get(response.url))
    assert "your account is ready" in page
    assert "Sign out" in page and reverse("accounts:profile") in page


def test_sign_up_goes_back_to_a_safe_next_page(client):
    data = {"email": "ann@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("accounts:signup") + "?next=/gallery/", data)
    assert response.url == "/gallery/"
    other = Client().post(
        reverse("accounts:signup") + "?next=https://evil.example/",
        {**data, "email": "bob@example.com"},
    )
    assert other.url == reverse("colorize:home")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address"),
        ({"email": ""}, "email", "This field is required"),
        ({"password2": "something-else-42"}, "password2", "The two passwords differ"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
        ({"password1": "83749201746", "password2": "83749201746"}, "password1", "entirely numeric"),
        (
            {"email": "colourful@example.com", "password1": "colourful", "password2": "colourful"},
            "password1",
            "too similar to the email address",
        ),
    ],
    ids=["bad-email", "no-email", "mismatch", "short", "common", "numeric", "similar"],
)
def test_sign_up_refuses_bad_input_with_clear_messages(client, data, field, message):
    form = {"email": "ann@example.com", "password1": PASSWORD, "password2": PASSWORD, **data}
    response = client.post(reverse("accounts:signup"), form)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert 'role="alert"' in page  # the summary is announced
    # The field says it is invalid and points at its message.
    assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', page) or re.search(
        rf'aria-invalid="true"[^>]*id="id_{field}"', page
    )
    assert f'id="id_{field}_error"' in page
    assert not get_user_model().objects.exists()


def test_sign_up_refuses_an_address_in_use_whatever_its_case(client, make_user):
    make_user("ann")
    response = client.post(
        reverse("accounts:signup"),
        {"email": "ANN@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    assert "exists already" in text(response)
    assert get_user_model().objects.count() == 1


def test_signed_in_visitors_are_sent_to_their_profile(client, make_user):
    client.force_login(make_user("ann"))
    assert client.get(reverse("accounts:signup")).url == reverse("accounts:profile")
    assert client.get(reverse("accounts:login")).url == reverse("colorize:history")


@pytest.mark.parametrize("login", ["ann@example.com", "ANN@Example.com", "ann"])
def test_sign_in_with_email_in_any_case_or_username(client, django_user_model, login):
    django_user_model.objects.create_user("ann", email="ann@example.com", password="pw-horse")
    response = client.post(reverse("accounts:login"), {"username": login, "password": "pw-horse"})
    assert response.status_code == 302 and response.url == reverse("colorize:history")
    assert signed_in_user(client).get_username() == "ann"


def test_sign_in_goes_to_a_safe_next_page(client, make_user):
    make_user("ann")
    data = {"username": "ann@example.com", "password": "pw-horse"}
    response = client.post(reverse("accounts:login") + "?next=/gallery/", data)
    assert response.url == "/gallery/"
    evil = Client().post(reverse("accounts:login") + "?next=https://evil.example/x", data)
    assert evil.url == reverse("colorize:history")


def test_a_wrong_password_gets_a_clear_generic_message(client, make_user):
    make_user("ann")
    for login in ("ann@example.com", "nobody@example.com"):
        response = client.post(
            reverse("accounts:login"), {"username": login, "password": "wrong-password"}
        )
        assert response.status_code == 400
        page = text(response)
        assert "do not match an account" in page and 'role="alert"' in page
        assert signed_in_user(client) is None


def test_empty_sign_in_fields_are_named(client):
    response = client.post(reverse("accounts:login"), {"username": "", "password": ""})
    assert response.status_code == 400
    assert text(response).count("This field is required") == 2


def test_pages_that_need_an_account_send_to_the_sites_sign_in(client):
    response = client.get(reverse("colorize:history"))
    assert response.url == reverse("accounts:login") + "?next=" + reverse("colorize:history")
    page = text(client.get(response.url))
    assert 'name="next" value="/history/"' in page
    assert "Forgot your password?" in page and reverse("accounts:signup") in page


def test_sign_out_is_a_post(client, make_user):
    client.force_login(make_user("ann"))
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert signed_in_user(client) is not None
    response = client.post(reverse("accounts:logout"))
    assert response.url == reverse("colorize:home")
    assert signed_in_user(client) is None
    assert "You are signed out" in text(client.get(response.url))


def test_navigation_for_visitors_users_and_staff(client, make_user):
    anonymous = text(client.get(reverse("colorize:gallery")))
    assert "Sign in" in anonymous and "Sign up" in anonymous and "Sign out" not in anonymous
    assert "?next=/gallery/" in anonymous  # come back here after signing in
    client.force_login(make_user("ann"))
    user = client.get(reverse("colorize:gallery")).content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"[^>]*>\s*<input', user)
    assert "Sign up" not in user and "My photos" in user and 'href="/admin/"' not in user
    staff = Client()
    staff.force_login(make_user("mod", is_staff=True))
    assert 'href="/admin/"' in staff.get(reverse("colorize:gallery")).content.decode()


@pytest.mark.parametrize(
    "name",
    ["accounts:signup", "accounts:login", "accounts:password-reset"],
)
def test_account_pages_are_csp_clean_and_labelled(client, name):
    from tests.web.test_pages import assert_csp_clean

    response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert_csp_clean(html)
    for field_id in re.findall(r'<input[^>]*type="(?:email|password|text)"[^>]*id="([^"]+)"', html):
        assert f'for="{field_id}"' in html, field_id
