"""The profile page, API tokens made and revoked from the site, and deleting one's account (which
leaves no rows and no files behind)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import AccountStatus, ApiToken
from colorize.models import Batch, Job, ModerationAction, Result, Upload, Usage
from colorize.services import moderation, sharing

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def test_profile_shows_the_account_and_its_usage(client, make_user, colorize_photos):
    ann = make_user("ann")
    colorize_photos(owner=ann, count=2)
    client.force_login(ann)
    page = text(client.get(reverse("accounts:profile")))
    assert "ann@example.com" in page
    assert "2 (2 done)" in page
    assert "2 of 200 colorizations used (198 left)" in page
    assert "One colorization is one photo through one model" in page and " jobs" not in page
    for name in ("accounts:password-change", "accounts:tokens", "accounts:delete"):
        assert reverse(name) in page


# --- API tokens ---------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works(client, make_user):
    ann = make_user("ann")
    client.force_login(ann)
    response = client.post(reverse("accounts:tokens"), {"name": "  backup   script "})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = re.search(r'id="new-token-key"[^>]*value="([^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert token.name == "backup script" and token.user == ann and key.startswith(token.prefix)
    assert "shown this once only" in text(response)
    api = Client(headers={"Authorization": f"Token {key}"})
    assert api.get(reverse("api:jobs")).status_code == 200

    listing = client.get(reverse("accounts:tokens")).content.decode()
    assert key not in listing and f"{token.prefix}…" in listing and "backup script" in listing


def test_token_name_is_required(client, make_user):
    client.force_login(make_user("ann"))
    for name in ("", "   "):
        response = client.post(reverse("accounts:tokens"), {"name": name})
        assert response.status_code == 400
        assert 'role="alert"' in text(response)
    assert not ApiToken.objects.exists()
    too_long = client.post(reverse("accounts:tokens"), {"name": "x" * 101})
    assert too_long.status_code == 400 and "at most 100 characters" in text(too_long)


def test_revoking_stops_the_token_at_once(client, make_user):
    ann = make_user("ann")
    token, key = services.token_create(ann, "laptop")
    client.force_login(ann)
    response = client.post(reverse("accounts:token-revoke", args=[token.pk]))
    assert response.url == reverse("accounts:tokens")
    page = text(client.get(response.url))
    assert "Revoked “laptop”" in page and "revoked" in page
    assert Client(headers={"Authorization": f"Token {key}"}).get("/api/v1/jobs").status_code == 401
    # Revoking twice is harmless.
    assert client.post(reverse("accounts:token-revoke", args=[token.pk])).status_code == 302


def test_nobody_else_can_revoke_a_token(client, make_user):
    token, _ = services.token_create(make_user("ann"), "anns-nas")
    client.force_login(make_user("bob"))
    assert client.post(reverse("accounts:token-revoke", args=[token.pk])).status_code == 404
    assert client.get(reverse("accounts:token-revoke", args=[token.pk])).status_code == 405
    assert client.post(reverse("accounts:token-revoke", args=[99999])).status_code == 404
    assert "anns-nas" not in text(client.get(reverse("accounts:tokens")))
    assert ApiToken.objects.get().is_active
    assert Client().post(reverse("accounts:token-revoke", args=[token.pk])).status_code == 302


# --- Deleting one's account ---------------------------------------------------------------------


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def rows_of(user_id: int) -> dict[str, int]:
    """Every row in every model that points at this user (any foreign key to the user model)."""
    user_model = get_user_model()
    found = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if field.many_to_one and field.concrete and field.related_model is user_model:
                count = model._default_manager.filter(**{field.attname: user_id}).count()
                if count:
                    found[f"{model._meta.label}.{field.name}"] = count
    if user_model.objects.filter(pk=user_id).exists():
        found["user"] = 1
    return found


def test_deleting_an_account_leaves_no_rows_or_files(
    client, make_user, colorize_photos, media_root, django_capture_on_commit_callbacks, hint_model
):
    ann, bob, moderator = make_user("ann"), make_user("bob"), make_user("mod", is_staff=True)
    colorize_photos(owner=ann, count=2)
    published = colorize_photos(owner=ann, model="all").jobs.first()
    sharing.job_publish(job=published)
    moderation.job_hide(job=published, moderator=moderator, reason="too dark")
    services.token_create(ann, "script")
    bobs = colorize_photos(owner=bob).jobs.get()
    ann_files = [
        Path(path)
        for upload in Upload.objects.filter(owner=ann)
        for path in [upload.image.path]
        + [job.result.image.path for job in upload.jobs.all() if hasattr(job, "result")]
    ]
    assert len(ann_files) == 2 + 2 + 1 + 2 and all(path.exists() for path in ann_files)
    assert rows_of(ann.pk)

    client.force_login(ann)
    page = text(client.get(reverse("accounts:delete")))
    assert "3 photos" in page and "cannot be undone" in page
    wrong = client.post(reverse("accounts:delete"), {"password": "not-mine"})
    assert wrong.status_code == 400 and "The password is not correct" in text(wrong)
    empty = client.post(reverse("accounts:delete"), {"password": ""})
    assert empty.status_code == 400 and "This field is required" in text(empty)
    assert get_user_model().objects.filter(pk=ann.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:delete"), {"password": "pw-horse"})
    assert response.url == reverse("colorize:home")
    assert "Your account, photos and results are deleted" in text(client.get(response.url))
    assert "_auth_user_id" not in client.session

    assert rows_of(ann.pk) == {}
    assert not any(path.exists() for path in ann_files)
    assert not Usage.objects.filter(owner_id=ann.pk).exists()
    # Bob's things are untouched; the moderators' record stays, without Ann.
    assert Path(bobs.upload.image.path).exists() and Path(bobs.result.image.path).exists()
    remaining = {path.resolve() for path in files_under(media_root)}
    assert remaining == {
        Path(bobs.upload.image.path).resolve(),
        Path(bobs.result.image.path).resolve(),
    }
    assert Job.objects.count() == 1 and Upload.objects.count() == 1 and Batch.objects.count() == 1
    assert Result.objects.count() == 1
    record = ModerationAction.objects.get()
    assert record.subject_user is None and record.moderator == moderator
    assert "ann" not in record.target_repr
    assert not AccountStatus.objects.exists()


def test_delete_account_service_checks_the_password(make_user):
    ann = make_user("ann")
    with pytest.raises(services.AccountError, match="not correct"):
        services.delete_account(user=ann, password="wrong")
    with pytest.raises(services.AccountError):
        services.delete_account(user=ann, password="")
    assert get_user_model().objects.filter(pk=ann.pk).exists()


def test_account_pages_need_an_account(client):
    for name in (
        "accounts:profile",
        "accounts:tokens",
        "accounts:delete",
        "accounts:password-change",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("accounts:login") + "?next="), name
    assert client.post(reverse("accounts:delete"), {"password": "x"}).status_code == 302
    assert client.post(reverse("accounts:tokens"), {"name": "x"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_signed_in_account_pages_are_csp_clean_and_labelled(client, make_user):
    from tests.web.test_pages import assert_csp_clean

    ann = make_user("ann")
    services.token_create(ann, "script")
    client.force_login(ann)
    pages = [
        client.get(reverse(name))
        for name in ("accounts:profile", "accounts:tokens", "accounts:delete")
    ]
    pages.append(client.get(reverse("accounts:password-change")))
    pages.append(client.post(reverse("accounts:tokens"), {"name": "new"}))  # with the new key
    pages.append(client.post(reverse("accounts:delete"), {"password": "wrong"}))  # with errors
    for response in pages:
        html = response.content.decode()
        assert_csp_clean(html)
        for field_id in re.findall(r'<input[^>]*type="(?:password|text)"[^>]*id="([^"]+)"', html):
            assert f'for="{field_id}"' in html, field_id
