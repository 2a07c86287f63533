"""The API's job JSON: JobSerializer builds it directly, as DRF's generic walk over its fields
would (colorize.api.serializers); every kind of job gives the same dict both ways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework import serializers

from colorize.api.serializers import JobSerializer, SubmissionSerializer
from colorize.models import Batch, Job, Kind, Result, Upload

pytestmark = pytest.mark.django_db


def _job(user, *, kind: str = Kind.PHOTO, result: dict | None = None, **fields) -> Job:
    batch = Batch.objects.create(owner=user, model_key="zhang-eccv16")
    upload = Upload.objects.create(
        batch=batch, owner=user, kind=kind, image="originals/x.png", format="PNG", width=64,
        height=48, frames=120 if kind == Kind.VIDEO else 0, size_bytes=10, sha256="0" * 64,
    )  # fmt: skip
    job = Job.objects.create(
        batch=batch, upload=upload, owner=user, model_key="zhang-eccv16", kind=kind, **fields
    )
    if result is not None:
        Result.objects.create(job=job, image="results/x.png", width=64, height=48, details=result)
    return job


def _jobs(user) -> list[Job]:
    now = timezone.now()
    done = {"status": Job.Status.SUCCEEDED, "started_at": now, "finished_at": now}
    return [
        _job(user),  # queued
        _job(user, status=Job.Status.RUNNING, started_at=now, attempts=2),
        _job(user, status=Job.Status.FAILED, error="Not a photo.", finished_at=now),
        _job(user, result={}, **done),
        _job(user, result={"imagenet_class": 3, "seed": 7}, params={"candidates": 2}, **done),
        _job(user, result={}, published_at=now, hidden_reason="Spam", hidden_at=now, **done),
        _job(user, kind=Kind.VIDEO, status=Job.Status.RUNNING, progress_done=4, progress_eta=2.5),
        _job(user, kind=Kind.VIDEO, result={"seconds_per_frame": 0.5}, **done),
        _job(user, status=Job.Status.SUCCEEDED, queued_at=now - timedelta(days=400)),  # no result
    ]


def _generic(serializer: JobSerializer, job: Job) -> dict:
    return serializers.Serializer.to_representation(serializer, job)


def test_each_kind_of_job_gives_what_drf_gives(make_user) -> None:
    request = RequestFactory().get("/api/v1/jobs")
    for job in _jobs(make_user("ann")):
        for context in ({"request": request}, {}):  # absolute links, or the site's address
            fresh = Job.objects.select_related("upload", "result").get(pk=job.pk)
            serializer = JobSerializer(context=context)
            assert serializer.to_representation(fresh) == _generic(serializer, fresh)
            assert list(serializer.to_representation(fresh)) == list(_generic(serializer, fresh))


def test_lists_and_submissions_use_it_too(make_user) -> None:
    jobs = _jobs(make_user("ann"))
    listed = JobSerializer(jobs, many=True).data
    assert [dict(item) for item in listed] == [_generic(JobSerializer(), job) for job in jobs]
    submission = SubmissionSerializer({"batch": jobs[0].batch_id, "jobs": jobs[:2]}).data
    assert submission["jobs"][1] == _generic(JobSerializer(), jobs[1])


def test_dates_in_another_time_zone_are_what_drf_gives(make_user) -> None:
    jobs = _jobs(make_user("ann"))
    with timezone.override("Europe/Paris"):
        for job in jobs:
            serializer = JobSerializer()
            assert serializer.to_representation(job) == _generic(serializer, job)
            assert not serializer.to_representation(job)["queued_at"].endswith("Z")
