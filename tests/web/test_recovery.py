"""The recovery rules on their own (the real-process scenarios are in test_worker_recovery): who
may finish a job, when a silent job is queued again or failed, what the sweeper hands to the
broker again, and that the sweep is scheduled."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_q.models import Schedule

from colorize.models import Job, Result
from colorize.services import recovery, running, submission
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(settings, media_root, django_capture_on_commit_callbacks):
    settings.COLORIA_SYNC_JOBS = False
    settings.COLORIA_WORKER_LOST_SECONDS = 60

    def make() -> Job:
        photo = SimpleUploadedFile("p.png", encode(make_photo(48, 40)))
        with django_capture_on_commit_callbacks(execute=True):
            return submission.job_submit(files=[photo], model_key="zhang-eccv16").jobs.get()

    return make


def silent_for(job: Job, seconds: int) -> None:
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_only_the_run_holding_the_token_beats_and_finishes(queued, monkeypatch):
    job = queued()
    token = recovery.claim(job.pk)
    assert token is not None and recovery.claim(job.pk) is None  # taken: not twice
    assert recovery.beat(job.pk, token) and not recovery.beat(job.pk, uuid.uuid4())
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.worker and job.attempts == 1


def test_a_run_whose_job_was_recovered_meanwhile_keeps_no_result(queued, monkeypatch):
    """The worker was taken for lost (say it hung), the job queued and run again; when the first
    run comes back, its result is dropped: one job, one result."""
    job = queued()
    first_claim = recovery.claim

    def claim_then_lose(job_id, now=None):
        token = first_claim(job_id, now)
        silent_for(Job.objects.get(pk=job_id), 120)
        assert recovery.sweep()["queued"] == 1  # meanwhile: lost, queued again
        return token

    monkeypatch.setattr(recovery, "claim", claim_then_lose)
    running.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and not Result.objects.filter(job=job).exists()
    monkeypatch.setattr(recovery, "claim", first_claim)
    assert running.job_run(job_id=job.pk).status == Job.Status.SUCCEEDED
    assert Result.objects.filter(job=job).count() == 1


def test_a_silent_job_is_queued_again_once_then_failed_with_a_reason(queued, settings):
    settings.COLORIA_JOB_MAX_ATTEMPTS = 2
    job = queued()
    recovery.claim(job.pk)
    silent_for(job, 30)
    assert recovery.sweep()["queued"] == 0  # heard from 30 s ago: not lost yet
    silent_for(job, 90)
    assert recovery.sweep()["queued"] == 1
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    recovery.claim(job.pk)
    silent_for(job, 90)
    assert recovery.sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.attempts == 2
    assert "stopped twice before it finished" in job.error


def test_a_stopping_worker_hands_its_job_back_without_using_a_run(queued):
    job = queued()
    token = recovery.claim(job.pk)
    assert not recovery.hand_back(job.pk, uuid.uuid4())  # not its job
    assert recovery.hand_back(job.pk, token)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 0 and job.run_token is None


def test_a_redelivered_task_of_a_lost_job_runs_it_again(queued):
    """The ORM broker hands a dead worker's task out again after its retry time: the job is
    lost (silent), so the task recovers and runs it instead of calling it 'nothing to do'."""
    job = queued()
    recovery.claim(job.pk)
    silent_for(job, 120)
    done = running.job_run(job_id=job.pk)
    assert done.status == Job.Status.SUCCEEDED and done.attempts == 2


def test_queued_jobs_the_broker_lost_are_handed_over_again_with_back_off(queued, monkeypatch):
    job, held = queued(), queued()
    long_ago = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk__in=[job.pk, held.pk]).update(enqueued_at=long_ago)
    monkeypatch.setattr(recovery, "broker_job_ids", lambda: {str(held.pk)})
    assert recovery.sweep()["re-enqueued"] == 1
    job.refresh_from_db()
    assert job.enqueue_count == 2 and job.enqueued_at > long_ago
    assert recovery.sweep()["re-enqueued"] == 0  # just handed over: wait before the next time


def test_the_broker_is_asked_what_it_holds(queued):
    job = queued()  # enqueued through the real broker of this test pass (ORM or Redis)
    assert str(job.pk) in recovery.broker_job_ids()


def test_the_sweep_is_scheduled_every_minute():
    schedule = Schedule.objects.get(func="colorize.tasks.sweep_jobs")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1


def test_a_result_is_stored_under_its_run_and_a_killed_runs_file_is_deleted_on_recovery(queued):
    """A worker killed between storing its result file and saving the row leaves the file: the
    run is named in the file's name, so its recovery (queued again, or failed) deletes it."""
    from django.core.files.storage import default_storage

    from colorize.models import run_result_name

    job = queued()
    token = recovery.claim(job.pk)
    orphan = run_result_name(job.pk, token)
    default_storage.save(orphan, SimpleUploadedFile("r.png", encode(make_photo(8, 8))))
    assert default_storage.exists(orphan)
    silent_for(job, 120)
    assert recovery.sweep()["queued"] == 1
    assert not default_storage.exists(orphan)

    done = running.job_run(job_id=job.pk)  # the next run stores its own file and keeps it
    result = Result.objects.get(job=done)
    assert done.status == Job.Status.SUCCEEDED and done.run_token is not None
    assert result.image.name == run_result_name(job.pk, done.run_token)
    assert default_storage.exists(result.image.name)
    recovery.drop_run_file(job.pk, done.run_token)  # a saved result's file is never dropped
    assert default_storage.exists(result.image.name)


def test_a_run_failed_by_its_task_hook_leaves_no_file(queued):
    from django.core.files.storage import default_storage

    from colorize.models import run_result_name

    job = queued()
    token = recovery.claim(job.pk)
    orphan = run_result_name(job.pk, token)
    default_storage.save(orphan, SimpleUploadedFile("r.png", encode(make_photo(8, 8))))
    running.job_mark_lost(job_id=job.pk, reason="The worker stopped.")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and not default_storage.exists(orphan)
