"""Behind nginx, private downloads are handed off with X-Accel-Redirect after the permission
check (COLORIA_ACCEL_REDIRECT_PREFIX); published photos' thumbnails may be cached by anyone,
every other image stays private to its viewer."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from colorize.models import Job
from colorize.selectors import downloads

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def ann_job(make_user, colorize_photos):
    ann = make_user("ann")
    job = colorize_photos(owner=ann, name="Großvater.png").jobs.get()
    client = Client()
    client.force_login(ann)
    return ann, job, client


def test_with_a_prefix_downloads_are_handed_to_nginx_after_the_check(settings, ann_job):
    settings.COLORIA_ACCEL_REDIRECT_PREFIX = "/protected/"
    _, job, client = ann_job
    result = client.get(reverse("colorize:job-result", args=[job.id]), {"download": "1"})
    assert result.status_code == 200
    assert body(result) == b""
    assert result["X-Accel-Redirect"] == f"/protected/{job.result.image.name}"
    assert result["Content-Type"] == "image/png"
    assert result["Content-Disposition"].startswith("attachment; filename*=utf-8''Gro%C3%9F")
    assert result["Cache-Control"] == downloads.CACHE_PRIVATE
    original = client.get(reverse("colorize:job-original", args=[job.id]), {"download": "1"})
    assert original["X-Accel-Redirect"] == f"/protected/{job.upload.image.name}"
    assert body(original) == b""
    # The API's result download goes through the same hand-off.
    from accounts.services import token_create

    _, key = token_create(job.owner, "tests")
    api = Client(headers={"Authorization": f"Token {key}"})
    response = api.get(f"/api/v1/jobs/{job.id}/result")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected/{job.result.image.name}"


def test_the_permission_check_still_comes_first(settings, ann_job, make_user):
    settings.COLORIA_ACCEL_REDIRECT_PREFIX = "/protected/"
    _, job, _ = ann_job
    stranger = Client()
    stranger.force_login(make_user("bob"))
    for name in ("colorize:job-result", "colorize:job-original"):
        response = stranger.get(reverse(name, args=[job.id]))
        assert response.status_code == 404 and "X-Accel-Redirect" not in response


def test_without_a_prefix_files_are_streamed(settings, ann_job):
    settings.COLORIA_ACCEL_REDIRECT_PREFIX = ""
    _, job, client = ann_job
    response = client.get(reverse("colorize:job-result", args=[job.id]))
    assert "X-Accel-Redirect" not in response
    with job.result.image.open("rb") as stored:
        assert body(response) == stored.read()


def test_made_on_the_fly_images_are_never_handed_off(settings, ann_job):
    # A JPEG copy has no file for nginx to send: it is made and sent by the site.
    settings.COLORIA_ACCEL_REDIRECT_PREFIX = "/protected/"
    _, job, client = ann_job
    jpeg = client.get(reverse("colorize:job-result", args=[job.id]), {"format": "jpeg"})
    assert "X-Accel-Redirect" not in jpeg and body(jpeg)[:2] == b"\xff\xd8"


def test_files_not_on_the_local_disk_are_not_handed_off(settings, ann_job):
    settings.COLORIA_ACCEL_REDIRECT_PREFIX = "/protected/"
    _, job, _ = ann_job

    class Remote:  # an object store's file: nginx cannot read it from a disk
        name = job.result.image.name
        storage = object()

    assert downloads.accel_path(Remote()) == ""
    assert downloads.accel_path(job.result.image) == f"/protected/{job.result.image.name}"


def test_only_a_published_photos_thumbnails_may_be_cached_by_anyone(settings, ann_job):
    settings.COLORIA_PUBLIC_CACHE_SECONDS = 3600
    _, job, client = ann_job
    urls = [
        reverse("colorize:job-thumbnail", args=[job.id, kind]) for kind in ("original", "result")
    ]
    for url in urls:
        assert client.get(url)["Cache-Control"] == "private, max-age=3600"
    Job.objects.filter(pk=job.pk).update(published_at=timezone.now())
    visitor = Client()
    for url in urls:
        response = visitor.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "public, max-age=3600"
    # Hidden by a moderator: no longer public, and no longer cacheable (its owner still sees it).
    Job.objects.filter(pk=job.pk).update(hidden_at=timezone.now(), hidden_reason="spam")
    assert visitor.get(urls[1]).status_code == 404
    assert client.get(urls[1])["Cache-Control"] == "private, max-age=3600"
    # The full-size result of a published photo stays private to caches.
    Job.objects.filter(pk=job.pk).update(hidden_at=None)
    result = visitor.get(reverse("colorize:job-result", args=[job.id]))
    assert result["Cache-Control"] == downloads.CACHE_PRIVATE
