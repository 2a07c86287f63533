"""A script's view of the API: token in, photos up, poll, download, delete."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from colorize.models import Job, Result, Upload
from tests.api.conftest import body
from tests.conftest import encode, make_photo
from tests.web.helpers import assert_is_colorization_of

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_submit_poll_download_delete(
    api_client, make_user, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    api = api_client(make_user("ann"))
    photo = make_photo(120, 80)

    models = api.get(f"{API}/models").json()
    eccv16 = next(m for m in models if m["key"] == "zhang-eccv16")
    assert eccv16["installed"] and eccv16["is_default"]
    temperature = next(p for p in eccv16["parameters"] if p["name"] == "temperature")
    assert (temperature["min"], temperature["max"], temperature["default"]) == (0.1, 1.0, 1.0)

    # Submit; the queue's callbacks are held back, to run as "the worker" while the script polls.
    with django_capture_on_commit_callbacks(execute=False) as queue:
        response = api.post(
            f"{API}/jobs",
            {
                "images": [SimpleUploadedFile("grandma.png", encode(photo))],
                "model": "zhang-eccv16",
                "temperature": "0.38",
            },
        )
    assert response.status_code == 202, response.content
    submitted = response.json()
    (job,) = submitted["jobs"]
    assert job["status"] == "queued" and job["result_url"] is None
    assert job["params"] == {"temperature": 0.38}
    assert api.get(job["url"]).json()["status"] == "queued"

    for run in queue:  # the worker takes the job
        run()
    polled = api.get(job["url"]).json()
    assert polled["status"] == "succeeded", polled["error"]
    assert polled["duration_seconds"] is not None and polled["attempts"] == 1

    png = api.get(polled["result_url"])
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert 'filename="grandma-colorized-zhang-eccv16.png"' in png["Content-Disposition"]
    assert_is_colorization_of(body(png), photo)
    jpeg = api.get(polled["result_url"], {"format": "jpeg"})
    assert jpeg["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body(jpeg))).size == (120, 80)
    assert body(api.get(polled["original_url"])) == encode(photo)

    history = api.get(f"{API}/jobs").json()
    assert [j["id"] for j in history["results"]] == [job["id"]]

    stored = [Upload.objects.get().image.path, Result.objects.get().image.path]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(job["url"]).status_code == 204
    assert api.get(job["url"]).status_code == 404
    assert not Job.objects.exists() and not Upload.objects.exists()
    assert not any(os.path.exists(path) for path in stored)


def test_all_models_makes_one_job_per_installed_model(
    api_client, make_user, media_root, hint_model
):
    api = api_client(make_user("ann"))
    response = api.post(
        f"{API}/jobs",
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": "all"},
    )
    assert response.status_code == 202
    models = {job["model"] for job in response.json()["jobs"]}
    assert models == {"zhang-eccv16", hint_model}


def test_history_is_cursor_paginated_newest_first_and_filtered(
    api_client, make_user, colorize_photos
):
    ann = make_user("ann")
    api = api_client(ann)
    colorize_photos(owner=ann, count=3)
    jobs = list(Job.objects.order_by("-queued_at"))
    Job.objects.filter(pk=jobs[0].pk).update(status=Job.Status.FAILED, error="boom")

    first = api.get(f"{API}/jobs", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    assert [j["id"] for j in first["results"] + second["results"]] == [str(j.id) for j in jobs]
    assert second["next"] is None

    failed = api.get(f"{API}/jobs", {"status": "failed"}).json()["results"]
    assert [j["id"] for j in failed] == [str(jobs[0].id)]
    assert api.get(f"{API}/jobs", {"model": "zhang-eccv16"}).json()["results"]
    assert api.get(f"{API}/jobs", {"model": "nope"}).json()["results"] == []


def test_a_failed_job_is_retried(
    api_client, make_user, colorize_photos, django_capture_on_commit_callbacks
):
    ann = make_user("ann")
    api = api_client(ann)
    job = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{API}/jobs/{job.id}/retry")
    assert response.status_code == 202
    assert api.get(f"{API}/jobs/{job.id}").json()["status"] == "succeeded"
    assert api.post(f"{API}/jobs/{job.id}/retry").status_code == 409


def test_a_hidden_job_cannot_be_published(api_client, make_user, colorize_photos):
    from django.utils import timezone

    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=job.pk).update(hidden_at=timezone.now(), hidden_reason="spam")
    response = api_client(ann).post(f"{API}/jobs/{job.id}/publish")
    assert response.status_code == 409
    assert "moderator" in response.json()["detail"]


def test_session_auth_needs_csrf(make_user, media_root):
    from django.test import Client

    ann = make_user("ann")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    assert browser.get(f"{API}/jobs").status_code == 200
    photo = SimpleUploadedFile("p.png", encode(make_photo()))
    refused = browser.post(f"{API}/jobs", {"images": [photo], "model": "zhang-eccv16"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.get("/")  # the site's page sets the CSRF cookie its JavaScript sends back
    photo.seek(0)
    accepted = browser.post(
        f"{API}/jobs",
        {"images": [photo], "model": "zhang-eccv16"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert accepted.status_code == 202


def test_colour_hints_are_accepted_through_the_api(
    api_client, make_user, settings, media_root, hint_model, django_capture_on_commit_callbacks
):
    """SIGGRAPH17 takes colour hints as a JSON field; the job stores and uses them."""
    settings.COLORIA_SYNC_JOBS = True
    api = api_client(make_user("hal"))
    hints = '[{"x": 30, "y": 20, "color": "#ff2000"}]'
    with django_capture_on_commit_callbacks(execute=True):  # the synchronous "worker"
        response = api.post(
            f"{API}/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(make_photo(64, 48)))],
             "model": hint_model, "hints": hints},
        )  # fmt: skip
    assert response.status_code == 202, response.content
    (job,) = response.json()["jobs"]
    done = api.get(job["url"]).json()
    assert done["status"] == "succeeded", done["error"]
    assert done["params"]["hints"] == [[30.0, 20.0, [255, 32, 0]]]

    refused = api.post(
        f"{API}/jobs",
        {"images": [SimpleUploadedFile("p.png", encode(make_photo(64, 48)))],
         "model": hint_model, "hints": "[[1, 2]]"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "params" in refused.json()
