"""The home page's "Your recent photos": an anonymous visitor finds what their browser sent until
it is deleted, a signed-in user their latest results; nobody sees anyone else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from colorize.models import Job, Upload
from colorize.services import submission
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

SECTION = "Your recent photos"


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def sync_jobs(settings, media_root):
    settings.COLORIA_SYNC_JOBS = True


def send(client, name: str, django_capture_on_commit_callbacks, seed: int = 0) -> Job:
    """Send a photo through the home page's form, as a visitor does; its job runs at once."""
    photo = SimpleUploadedFile(name, encode(make_photo(seed=seed)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:home"), {"images": [photo], "model": "zhang-eccv16"}
        )
    assert response.status_code == 302
    return Job.objects.get(upload__original_name=name)


def test_a_fresh_visitor_sees_no_recent_photos(client):
    page = text(client.get(reverse("colorize:home")))
    assert SECTION not in page and "All your photos" not in page


def test_an_anonymous_visitor_finds_their_photos_on_the_home_page(
    client, sync_jobs, django_capture_on_commit_callbacks
):
    job = send(client, "grandma.png", django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED and job.upload.expires_at is not None
    page = text(client.get(reverse("colorize:home")))
    assert SECTION in page and "grandma.png" in page
    assert f'href="{reverse("colorize:job", args=[job.id])}"' in page
    assert reverse("colorize:job-thumbnail", args=[job.id, "result"]) in page
    assert "Open result" in page and "Done" in page
    # Deleted 10 minutes after it was done: the page says when, as people say it.
    assert "deleted <time" in page and ">in 10 minutes</time>" in page
    assert reverse("accounts:signup") in page.split(SECTION)[1]
    assert "All your photos" not in page  # that is the history, for accounts


def test_another_visitor_does_not_see_them(client, sync_jobs, django_capture_on_commit_callbacks):
    send(client, "grandma.png", django_capture_on_commit_callbacks)
    stranger = text(Client().get(reverse("colorize:home")))
    assert SECTION not in stranger and "grandma.png" not in stranger


def test_expired_photos_are_not_shown(client, sync_jobs, django_capture_on_commit_callbacks):
    gone = send(client, "gone.png", django_capture_on_commit_callbacks, seed=1)
    kept = send(client, "kept.png", django_capture_on_commit_callbacks, seed=2)
    now = timezone.now()
    Upload.objects.filter(pk=gone.upload_id).update(expires_at=now - timedelta(seconds=1))
    Upload.objects.filter(pk=kept.upload_id).update(
        expires_at=now + timedelta(minutes=8, seconds=5)
    )
    page = text(client.get(reverse("colorize:home")))
    assert "kept.png" in page and "gone.png" not in page
    assert ">in 9 minutes</time>" in page
    Upload.objects.filter(pk=kept.upload_id).update(expires_at=now - timedelta(seconds=1))
    assert SECTION not in text(client.get(reverse("colorize:home")))


def test_photos_still_in_progress_say_when_they_will_go(client, media_root):
    client.get(reverse("colorize:home"))
    client.session.save()
    session_key = client.session.session_key
    photo = SimpleUploadedFile("waiting.png", encode(make_photo()))
    submission.job_submit(files=[photo], model_key="zhang-eccv16", session_key=session_key)
    page = text(client.get(reverse("colorize:home")))
    assert "waiting.png" in page and "Queued" in page
    assert "deleted 10 minutes after it is done" in page
    assert "Open result" not in page


def test_a_signed_in_user_sees_their_four_latest_and_a_link_to_all(
    client, colorize_photos, make_user
):
    ann, bob = make_user("ann"), make_user("bob")
    colorize_photos(owner=ann, count=5, name="ann.png")
    colorize_photos(owner=bob, name="bobs.png")
    client.force_login(ann)
    page = text(client.get(reverse("colorize:home")))
    section = page.split(SECTION)[1]
    assert section.count('class="card tile"') == 4
    assert f'<a href="{reverse("colorize:history")}">All your photos</a>' in section
    assert "bobs.png" not in page and "deleted" not in section
    assert "4-ann.png" in section and "0-ann.png" not in section  # the latest four
