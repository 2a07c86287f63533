"""Upload → job → worker → result, through the web form, with jobs run in-process."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from colorize.models import Batch, Job, Result, Upload
from colorize.services import running
from tests.conftest import encode, make_photo
from tests.web.helpers import assert_is_colorization_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_jobs(settings, media_root):
    settings.COLORIA_SYNC_JOBS = True


def upload(client, data: bytes, name: str = "photo.png", model: str = "zhang-eccv16", **extra):
    return client.post(
        reverse("colorize:home"),
        {"images": [SimpleUploadedFile(name, data)], "model": model, **extra},
    )


def test_home_offers_installed_models_and_counts_the_others(client, make_user):
    page = client.get(reverse("colorize:home")).content.decode()
    assert "Colorful (Zhang 2016)" in page
    # SIGGRAPH17 weights are not installed in the tests: counted, and only staff see how.
    assert 'value="zhang-siggraph17"' not in page and "can be installed by the site" in page
    assert "fetch_weights" not in page
    client.force_login(make_user("root", is_staff=True))
    page = client.get(reverse("colorize:home")).content.decode()
    assert "python manage.py fetch_weights zhang-siggraph17" in page


def test_upload_runs_job_and_shows_result(client, sync_jobs, django_capture_on_commit_callbacks):
    photo = make_photo(120, 80)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, encode(photo), name="grandma.png")
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("colorize:job", args=[job.id])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.attempts == 1 and job.started_at and job.finished_at

    page = client.get(response.url).content.decode()
    assert reverse("colorize:job-result", args=[job.id]) in page
    assert "Download PNG" in page
    result = client.get(reverse("colorize:job-result", args=[job.id]))
    assert result["Content-Type"] == "image/png"
    assert_is_colorization_of(b"".join(result.streaming_content), photo)


def test_original_is_stored_under_a_random_name(
    client, sync_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()), name="../../etc/passwd.png")
    stored = Upload.objects.get()
    assert "passwd" not in stored.image.name and ".." not in stored.image.name
    assert stored.original_name.endswith("passwd.png")
    assert len(stored.sha256) == 64 and (stored.width, stored.height) == (96, 64)


def test_running_a_job_twice_does_nothing_the_second_time(
    client, sync_jobs, django_capture_on_commit_callbacks
):

    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()))
    job = Job.objects.get()
    running.job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.attempts == 1 and Result.objects.count() == 1


def test_other_visitors_cannot_see_a_job(client, sync_jobs, django_capture_on_commit_callbacks):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()))
    job = Job.objects.get()
    stranger = Client()
    for name in ("colorize:job", "colorize:job-result", "colorize:job-original"):
        assert stranger.get(reverse(name, args=[job.id])).status_code == 404


def test_missing_weights_fail_the_job_with_a_readable_error(
    client, settings, media_root, django_capture_on_commit_callbacks, tmp_path
):
    import ml

    settings.COLORIA_SYNC_JOBS = True
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(client, encode(make_photo()))
    ml.configure(weights_dir=tmp_path / "empty")  # weights vanish before the worker runs
    for callback in callbacks:
        callback()
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    assert job.error == (
        "Zhang ECCV16 (official) is not installed on this site any more: try another model."
    )  # the command that installs it is in the log, for the administrator
    page = client.get(reverse("colorize:job", args=[job.id])).content.decode()
    assert "not installed" in page and "Try again" in page


def test_unknown_parameter_is_refused(client, sync_jobs):
    response = upload(client, encode(make_photo()), param_strength="3")
    assert response.status_code == 400
    assert "does not take the parameter" in response.content.decode()
    assert Batch.objects.count() == 0


def test_out_of_range_parameter_is_refused(client, sync_jobs):
    response = upload(client, encode(make_photo()), param_temperature="7")
    assert response.status_code == 400
    assert "between 0.1 and 1" in response.content.decode()


def test_a_job_whose_worker_died_is_failed_with_a_reason(client, settings, media_root):
    from types import SimpleNamespace

    from colorize import tasks

    upload(client, encode(make_photo()))  # queued only: on_commit never fires in this test
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    tasks.job_task_finished(SimpleNamespace(success=False, args=[str(job.id)]))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "worker stopped" in job.error


def test_a_failed_job_can_be_retried_by_its_owner(
    client, sync_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()))
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("colorize:job-retry", args=[job.id]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_colour_hints_rerun_the_photo_as_a_new_job(
    client, sync_jobs, hint_model, django_capture_on_commit_callbacks
):
    photo = make_photo(120, 80)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(photo), model=hint_model)
    first = Job.objects.get()
    page = client.get(reverse("colorize:job", args=[first.id])).content.decode()
    assert "Steer the colours" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("colorize:job-rerun", args=[first.id]),
            {"param_hints": '[[30, 20, "#ff0000"]]'},
        )
    second = Job.objects.exclude(pk=first.pk).get()
    assert response.url == reverse("colorize:job", args=[second.id])
    assert second.upload_id == first.upload_id and second.status == Job.Status.SUCCEEDED
    assert second.params == {"hints": [[30.0, 20.0, [255, 0, 0]]]}
    result = client.get(reverse("colorize:job-result", args=[second.id]))
    assert_is_colorization_of(b"".join(result.streaming_content), photo)


def test_bad_hints_are_a_clear_error(
    client, sync_jobs, hint_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()), model=hint_model)
    job = Job.objects.get()
    response = client.post(
        reverse("colorize:job-rerun", args=[job.id]), {"param_hints": "[[1, 2]]"}
    )
    assert response.status_code == 400
    assert "Colour hints" in response.content.decode()
    assert Job.objects.count() == 1


def test_parameters_of_the_chosen_model_are_used(
    client, sync_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, encode(make_photo()), **{"zhang-eccv16:temperature": "0.38"})
    assert Job.objects.get().params == {"temperature": 0.38}
