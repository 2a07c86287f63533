"""Anonymous uploads are deleted a set time after their jobs finish, by a django-q2 schedule."""

from __future__ import annotations

import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from colorize import tasks
from colorize.models import Batch, Job, Result, Upload
from colorize.services import expiry, running, submission
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def test_an_anonymous_upload_expires_ttl_after_its_job_finishes(colorize_photos, settings):
    settings.COLORIA_ANONYMOUS_TTL_MINUTES = 3
    batch = colorize_photos(session_key="s" * 32)
    job, upload = batch.jobs.get(), batch.uploads.get()
    expected = job.finished_at + timedelta(minutes=3)
    assert abs((upload.expires_at - expected).total_seconds()) < 5


def test_a_signed_in_users_upload_never_expires(colorize_photos, make_user):
    batch = colorize_photos(owner=make_user("ann"))
    assert batch.uploads.get().expires_at is None


def test_a_batch_expires_only_when_every_job_has_finished(media_root):
    files = [SimpleUploadedFile(f"p{i}.png", encode(make_photo(seed=i))) for i in range(2)]
    batch = submission.job_submit(files=files, model_key="zhang-eccv16", session_key="k" * 32)
    first, second = batch.jobs.all()
    running.job_run(job_id=first.id)
    assert not Upload.objects.filter(expires_at__isnull=False).exists()
    running.job_run(job_id=second.id)
    assert Upload.objects.filter(expires_at__isnull=False).count() == 2


def test_a_retry_stops_the_clock_until_it_finishes(colorize_photos):
    batch = colorize_photos(session_key="s" * 32)
    job = batch.jobs.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    job.refresh_from_db()
    running.job_retry(job=job)  # queued again (its enqueue waits for a commit that never comes)
    assert batch.uploads.get().expires_at is None
    running.job_run(job_id=job.id)
    assert batch.uploads.get().expires_at is not None


def test_a_lost_job_starts_the_clock_too(media_root):
    files = [SimpleUploadedFile("p.png", encode(make_photo()))]
    batch = submission.job_submit(files=files, model_key="zhang-eccv16", session_key="k" * 32)
    job = batch.jobs.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    tasks.job_task_finished(SimpleNamespace(success=False, args=[str(job.id)]))
    assert batch.uploads.get().expires_at is not None


def paths(batch: Batch) -> list[str]:
    found = [upload.image.path for upload in batch.uploads.all()]
    found += [result.image.path for result in Result.objects.filter(job__batch=batch)]
    return found


def test_purge_deletes_expired_uploads_with_their_files(
    colorize_photos, make_user, django_capture_on_commit_callbacks
):
    expired = colorize_photos(session_key="a" * 32, count=2)
    fresh = colorize_photos(session_key="b" * 32)
    owned = colorize_photos(owner=make_user("ann"))
    expired_files, kept_files = paths(expired), paths(fresh) + paths(owned)
    assert all(os.path.exists(path) for path in expired_files + kept_files)
    later = timezone.now() + timedelta(minutes=5)
    Upload.objects.filter(batch=expired).update(expires_at=later - timedelta(seconds=1))
    Upload.objects.filter(batch=fresh).update(expires_at=later + timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.purge_expired_uploads(now=later) == 2

    assert not Batch.objects.filter(pk=expired.pk).exists()
    assert not Job.objects.filter(batch_id=expired.pk).exists()
    assert not any(os.path.exists(path) for path in expired_files)
    assert all(os.path.exists(path) for path in kept_files)
    assert Batch.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.purge_expired_uploads(now=later) == 0


def test_purge_by_default_uses_the_current_time(
    colorize_photos, django_capture_on_commit_callbacks
):
    batch = colorize_photos(session_key="a" * 32)
    Upload.objects.filter(batch=batch).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.purge_expired() == 1
    assert not Batch.objects.exists()


def test_anonymous_uploads_that_never_finished_go_after_a_day(media_root):
    files = [SimpleUploadedFile("p.png", encode(make_photo()))]
    batch = submission.job_submit(files=files, model_key="zhang-eccv16", session_key="k" * 32)
    assert expiry.purge_expired_uploads() == 0  # still queued, recent: kept
    Upload.objects.filter(batch=batch).update(created_at=timezone.now() - timedelta(days=2))
    assert expiry.purge_expired_uploads() == 1


def test_the_purge_runs_every_minute_as_a_django_q_schedule():
    schedule = Schedule.objects.get(func="colorize.tasks.purge_expired")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1
    assert schedule.repeats == -1


def test_pages_tell_anonymous_visitors_when_their_photos_go(client, colorize_photos, settings):
    batch = colorize_photos(session_key=client.session.session_key)
    job = batch.jobs.get()
    for url in (reverse("colorize:job", args=[job.id]), reverse("colorize:batch", args=[batch.id])):
        page = text(client.get(url))
        assert "deleted 10 minutes after they are done" in page
        assert "<time datetime=" in page
    assert "deleted 10 minutes" in text(client.get(reverse("colorize:home")))
    settings.COLORIA_ANONYMOUS_TTL_MINUTES = 30
    assert "deleted 30 minutes" in text(client.get(reverse("colorize:home")))
