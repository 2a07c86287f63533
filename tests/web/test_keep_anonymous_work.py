"""Photos colorized before signing up or in move to the account instead of vanishing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from colorize.models import Batch, Job, Upload
from colorize.services import expiry
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Colour-phrase-42"


@pytest.fixture
def anonymous_job(client, settings, media_root, django_capture_on_commit_callbacks) -> Job:
    settings.COLORIA_SYNC_JOBS = True
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("colorize:home"),
            {"images": [SimpleUploadedFile("grandma.png", encode(make_photo()))],
             "model": "zhang-eccv16"},
        )  # fmt: skip
    job = Job.objects.get()
    assert job.owner is None and job.status == Job.Status.SUCCEEDED
    assert Upload.objects.get().expires_at is not None  # anonymous: it would expire
    return job


def assert_kept_by(client: Client, job: Job, user) -> None:
    job.refresh_from_db()
    assert job.owner == user and job.batch.owner == user and job.upload.owner == user
    assert job.upload.expires_at is None  # an account's photos do not expire
    assert client.get(reverse("colorize:job", args=[job.id])).status_code == 200
    assert "grandma" in client.get(reverse("colorize:history")).content.decode()


def test_signing_up_keeps_what_was_colorized_before(client, anonymous_job):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "ann@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert "Kept in your history: 1 result you colorized before signing in." in " ".join(
        response.content.decode().split()
    )
    from django.contrib.auth import get_user_model

    assert_kept_by(client, anonymous_job, get_user_model().objects.get())


def test_signing_in_keeps_it_too_and_only_that_browsers_work(client, anonymous_job, make_user):
    stranger = Job.objects.create(
        batch=Batch.objects.create(session_key="someone-else"),
        upload=anonymous_job.upload, session_key="someone-else", model_key="zhang-eccv16",
    )  # fmt: skip
    ann = make_user("ann")
    response = client.post(
        reverse("accounts:login"), {"username": "ann@example.com", "password": "pw-horse"}
    )
    assert response.status_code == 302
    assert_kept_by(client, anonymous_job, ann)
    stranger.refresh_from_db()
    assert stranger.owner is None  # another session's work stays where it was


def test_claiming_needs_a_session_key_and_a_signed_in_user(anonymous_job, make_user):
    from django.contrib.auth.models import AnonymousUser

    key = anonymous_job.session_key
    assert expiry.claim_anonymous_work(user=make_user("ann"), session_key="") == 0
    assert expiry.claim_anonymous_work(user=AnonymousUser(), session_key=key) == 0
    assert Job.objects.get().owner is None
