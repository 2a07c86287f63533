"""History: a signed-in user's jobs, newest first, paginated, filtered; deleting removes files."""

from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.urls import reverse

from colorize.models import Batch, Job, Result, Upload
from colorize.services import storage, submission
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def queued_batch(owner, count: int = 5, model: str = "zhang-eccv16") -> Batch:
    """Jobs that stay queued (their on_commit enqueue never runs in a test transaction)."""
    files = [SimpleUploadedFile(f"q{i}.png", encode(make_photo(seed=i))) for i in range(count)]
    return submission.job_submit(files=files, model_key=model, owner=owner)


def test_history_needs_an_account(client):
    response = client.get(reverse("colorize:history"))
    assert response.status_code == 302
    assert response.url.startswith(resolve_url(django_settings.LOGIN_URL))


def test_history_lists_only_my_jobs_newest_first(client, colorize_photos, make_user):
    ann, bob = make_user("ann"), make_user("bob")
    colorize_photos(owner=ann, name="old.png")
    colorize_photos(owner=ann, name="new.png")
    colorize_photos(owner=bob, name="bobs.png")
    client.force_login(ann)
    response = client.get(reverse("colorize:history"))
    page = text(response)
    assert response.status_code == 200
    assert "new.png" in page and "old.png" in page and "bobs.png" not in page
    assert page.index("new.png") < page.index("old.png")
    assert "Done" in page and "Zhang ECCV16 (official)" in page


def test_history_is_paginated(client, media_root, make_user):
    ann = make_user("ann")
    for _ in range(3):
        queued_batch(ann)  # 15 jobs
    client.force_login(ann)
    first = text(client.get(reverse("colorize:history")))
    assert first.count('class="card tile"') == 12 and "Page 1 of 2" in first
    second = text(client.get(reverse("colorize:history"), {"page": 2}))
    assert second.count('class="card tile"') == 3 and "Newer" in second
    # Out-of-range pages show the last page rather than failing.
    assert client.get(reverse("colorize:history"), {"page": 99}).status_code == 200


def test_history_filters_by_model(client, media_root, make_user, hint_model):
    ann = make_user("ann")
    queued_batch(ann, count=2)
    queued_batch(ann, count=1, model=hint_model)
    client.force_login(ann)
    page = text(client.get(reverse("colorize:history"), {"model": hint_model}))
    assert page.count('class="card tile"') == 1
    assert f'<option value="{hint_model}" selected' in page
    everything = text(client.get(reverse("colorize:history")))
    assert everything.count('class="card tile"') == 3


def test_filter_is_kept_across_pages(client, media_root, make_user):
    ann = make_user("ann")
    for _ in range(3):
        queued_batch(ann)
    client.force_login(ann)
    page = client.get(reverse("colorize:history"), {"model": "zhang-eccv16"}).content.decode()
    assert "?model=zhang-eccv16&amp;page=2" in page


def files_of(job: Job) -> tuple:
    return job.upload.image.path, job.result.image.path


def test_deleting_a_job_removes_its_files(
    client, colorize_photos, make_user, django_capture_on_commit_callbacks
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    original, result = files_of(job)
    client.force_login(ann)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-delete", args=[job.id]))
    assert response.url == reverse("colorize:history")
    assert not Job.objects.exists() and not Upload.objects.exists() and not Batch.objects.exists()
    assert not Result.objects.exists()
    for path in (original, result):
        assert not os.path.exists(path)
    assert "Deleted" in text(client.get(response.url))


def test_deleting_one_model_keeps_the_shared_original(
    client, colorize_photos, make_user, hint_model, django_capture_on_commit_callbacks
):
    ann = make_user("ann")
    batch = colorize_photos(owner=ann, model="all")
    first, second = batch.jobs.order_by("model_key")
    original, first_result = files_of(first)
    _, second_result = files_of(second)
    with django_capture_on_commit_callbacks(execute=True):
        storage.job_delete(job=first)
    assert os.path.exists(original) and os.path.exists(second_result)
    assert not os.path.exists(first_result)
    assert Upload.objects.count() == 1 and Batch.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        storage.job_delete(job=second)
    assert not os.path.exists(original) and not os.path.exists(second_result)
    assert not Batch.objects.exists()


def test_delete_returns_to_the_page_it_came_from(
    client, colorize_photos, make_user, django_capture_on_commit_callbacks
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    client.force_login(ann)
    back = reverse("colorize:history") + "?model=zhang-eccv16&page=1"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-delete", args=[job.id]), {"next": back})
    assert response.url == back


def test_nobody_else_can_delete(client, colorize_photos, make_user):
    job = colorize_photos(owner=make_user("ann")).jobs.get()
    client.force_login(make_user("bob"))
    assert client.post(reverse("colorize:job-delete", args=[job.id])).status_code == 404
    assert client.get(reverse("colorize:job-delete", args=[job.id])).status_code == 405
    assert Job.objects.filter(pk=job.pk).exists()


def test_an_anonymous_owner_may_delete_too(
    client, colorize_photos, django_capture_on_commit_callbacks
):
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-delete", args=[job.id]))
    assert response.url == reverse("colorize:home")
    assert not Job.objects.exists()
