"""History: a signed-in user's submissions, newest first, each with its photos before and after;
paginated by submission, filtered by model and status (kept across pages and after deleting);
deleting removes files."""

from __future__ import annotations

import html
import os
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from colorize.models import Batch, Job, Result, Upload
from colorize.selectors import access
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


def groups(page: str) -> list[str]:
    """The page's submission groups, each as its HTML (heading and tiles)."""
    return page.split('<section class="history-group"')[1:]


def delete_next(page: str) -> str:
    """The address a tile's delete form returns to."""
    return html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))


def test_history_is_paginated_by_submission(client, media_root, make_user):
    ann = make_user("ann")
    for _ in range(9):
        queued_batch(ann, count=2)  # 9 submissions of 2 photos
    client.force_login(ann)
    first = text(client.get(reverse("colorize:history")))
    assert len(groups(first)) == 8 and first.count('class="card tile"') == 16
    assert "Page 1 of 2" in first
    second = text(client.get(reverse("colorize:history"), {"page": 2}))
    assert len(groups(second)) == 1 and second.count('class="card tile"') == 2
    assert "Newer" in second
    # Out-of-range pages show the last page rather than failing.
    assert client.get(reverse("colorize:history"), {"page": 99}).status_code == 200
    assert client.get(reverse("colorize:history"), {"page": "x"}).status_code == 200


def test_a_submission_is_never_split_across_pages(media_root, make_user):
    ann = make_user("ann")
    batches = [queued_batch(ann, count=5) for _ in range(3)]
    page = access.history_page(user=ann, per_page=2)
    assert [group.batch for group in page.object_list] == batches[:0:-1]  # newest first
    assert [len(group.jobs) for group in page.object_list] == [5, 5]
    last = access.history_page(user=ann, per_page=2, page=2)
    assert [group.batch for group in last.object_list] == [batches[0]]
    assert len(last.object_list[0].jobs) == 5


def test_history_groups_photos_by_submission(client, colorize_photos, make_user):
    ann = make_user("ann")
    older = colorize_photos(owner=ann, count=3, name="trip.png")
    Batch.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    newer = colorize_photos(owner=ann, name="cat.png")
    client.force_login(ann)
    page = text(client.get(reverse("colorize:history")))
    first, second = groups(page)
    assert f'<a href="{reverse("colorize:batch", args=[newer.id])}">' in first
    assert "1 photo · sent <time" in first and "just now</time>" in first
    assert first.count('class="card tile"') == 1 and "cat.png" in first
    assert f'<a href="{reverse("colorize:batch", args=[older.id])}">' in second
    assert "3 photos · sent <time" in second and "5 minutes ago</time>" in second
    assert second.count('class="card tile"') == 3
    assert all(f"{i}-trip.png" in second for i in range(3))
    assert "jobs ·" not in page and "job ·" not in page and not re.search(r"\b0 minutes", page)


def test_each_tile_shows_before_and_after_and_downloads_the_result(
    client, colorize_photos, make_user
):
    ann = make_user("ann")
    done = colorize_photos(owner=ann, name="done.png").jobs.get()
    waiting = queued_batch(ann, count=1).jobs.get()
    client.force_login(ann)
    page = client.get(reverse("colorize:history")).content.decode()
    tiles = [tile for group in groups(page) for tile in group.split('<li class="card tile"')[1:]]
    done_tile, waiting_tile = sorted(tiles, key=lambda tile: "done.png" not in tile)
    before = reverse("colorize:job-thumbnail", args=[done.id, "original"])
    after = reverse("colorize:job-thumbnail", args=[done.id, "result"])
    download = reverse("colorize:job-result", args=[done.id]) + "?download=1"
    assert f'src="{before}" alt="Before"' in done_tile and f'src="{after}" alt="After"' in done_tile
    assert f'href="{download}" download' in done_tile
    assert client.get(before).status_code == 200 and client.get(after).status_code == 200
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    # Not done yet: the original, a placeholder for the result, nothing to download.
    assert reverse("colorize:job-thumbnail", args=[waiting.id, "original"]) in waiting_tile
    assert reverse("colorize:job-thumbnail", args=[waiting.id, "result"]) not in waiting_tile
    assert "thumb-placeholder" in waiting_tile and "download" not in waiting_tile.lower()


def test_history_filters_by_model(client, media_root, make_user, hint_model):
    ann = make_user("ann")
    queued_batch(ann, count=2)
    queued_batch(ann, count=1, model=hint_model)
    client.force_login(ann)
    page = text(client.get(reverse("colorize:history"), {"model": hint_model}))
    assert page.count('class="card tile"') == 1 and len(groups(page)) == 1
    assert f'<option value="{hint_model}" selected' in page
    everything = text(client.get(reverse("colorize:history")))
    assert everything.count('class="card tile"') == 3 and len(groups(everything)) == 2


def test_a_submission_shows_only_its_jobs_that_match(
    client, colorize_photos, make_user, hint_model
):
    ann = make_user("ann")
    colorize_photos(owner=ann, model="all")  # one photo through both installed models
    client.force_login(ann)
    everything = text(client.get(reverse("colorize:history")))
    assert "1 photo · 2 results · sent" in everything
    assert everything.count('class="card tile"') == 2
    page = text(client.get(reverse("colorize:history"), {"model": hint_model}))
    (group,) = groups(page)
    assert group.count('class="card tile"') == 1 and "1 photo · sent" in group
    assert "Zhang SIGGRAPH17" in group and "Zhang ECCV16" not in group


def test_history_filters_by_status(client, colorize_photos, make_user):
    ann = make_user("ann")
    colorize_photos(owner=ann, name="done.png")
    broken = colorize_photos(owner=ann, name="broken.png").jobs.get()
    Job.objects.filter(pk=broken.pk).update(status=Job.Status.FAILED, error="Out of memory.")
    waiting = queued_batch(ann, count=1).jobs.get()
    Job.objects.filter(pk=waiting.pk).update(status=Job.Status.RUNNING)
    queued_batch(ann, count=1)
    client.force_login(ann)

    def tiles(status: str) -> int:
        page = text(client.get(reverse("colorize:history"), {"status": status}))
        return page.count('class="card tile"')

    assert (tiles("done"), tiles("failed"), tiles("in-progress"), tiles("")) == (1, 1, 2, 4)
    assert tiles("nonsense") == 4  # an unknown status filters nothing (and does not fail)
    page = text(client.get(reverse("colorize:history"), {"status": "failed"}))
    assert '<option value="failed" selected>Failed</option>' in page
    assert "broken.png" in page and "done.png" not in page
    for label in ("All", "Done", "Failed", "In progress"):
        assert f">{label}</option>" in page
    Job.objects.filter(status=Job.Status.FAILED).delete()
    empty = text(client.get(reverse("colorize:history"), {"status": "failed"}))
    assert "None of your photos match this filter" in empty


def test_filters_are_kept_across_pages(client, media_root, make_user):
    ann = make_user("ann")
    for _ in range(9):
        queued_batch(ann, count=1)
    client.force_login(ann)
    page = client.get(
        reverse("colorize:history"), {"model": "zhang-eccv16", "status": "in-progress"}
    ).content.decode()
    assert "?model=zhang-eccv16&amp;status=in-progress&amp;page=2" in page
    second = client.get(
        reverse("colorize:history"), {"model": "zhang-eccv16", "status": "in-progress", "page": 2}
    ).content.decode()
    assert "?model=zhang-eccv16&amp;status=in-progress&amp;page=1" in second
    assert '<option value="in-progress" selected>' in second


def test_deleting_from_a_filtered_page_comes_back_to_it(
    client, media_root, make_user, django_capture_on_commit_callbacks
):
    ann = make_user("ann")
    for _ in range(10):
        queued_batch(ann, count=1)
    client.force_login(ann)
    address = reverse("colorize:history") + "?model=zhang-eccv16&status=in-progress&page=2"
    page = client.get(address).content.decode()
    assert delete_next(page) == address
    job_id = re.search(r'action="/jobs/([0-9a-f-]+)/delete"', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-delete", args=[job_id]), {"next": address})
    assert response.status_code == 302 and response.url == address
    back = text(client.get(response.url))
    assert "Deleted, with its files." in back
    assert '<option value="zhang-eccv16" selected' in back
    assert '<option value="in-progress" selected>' in back
    assert "Page 2 of 2" in back and back.count('class="card tile"') == 1
    # Deleting the last photo of the last page: the same address shows the page before it.
    last = re.search(r'action="/jobs/([0-9a-f-]+)/delete"', back).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-delete", args=[last]), {"next": address})
    after = client.get(response.url)
    assert after.status_code == 200 and text(after).count('class="card tile"') == 8
    assert '<option value="in-progress" selected>' in text(after)


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
