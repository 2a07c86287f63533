"""GET /jobs: its first pages run with SQL compiled once (colorize.api.job_pages); they, and the
pages a cursor leads to, forwards and back, list what the ORM's own queries list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from colorize.models import Batch, Job, Upload

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _jobs(user, count: int) -> list[Job]:
    """`count` jobs, newest first."""
    made = []
    for n in range(count):
        batch = Batch.objects.create(owner=user, model_key="zhang-eccv16")
        upload = Upload.objects.create(
            batch=batch, owner=user, image="originals/x.png", format="PNG", width=64,
            height=48, size_bytes=10, sha256="0" * 64,
        )  # fmt: skip
        at = timezone.now() - timedelta(minutes=n)
        job = Job(batch=batch, upload=upload, owner=user, model_key="zhang-eccv16", queued_at=at)
        job.save()
        made.append(job)
    return made


def _ids(page: dict) -> list[str]:
    return [job["id"] for job in page["results"]]


def test_first_pages_are_what_the_filtered_query_gives(api_client, make_user) -> None:
    ann = make_user("ann")
    _jobs(make_user("bob"), 2)
    jobs = _jobs(ann, 5)
    api = api_client(ann)
    for size in (1, 3, 5, 20):
        prepared = api.get(f"{API}/jobs", {"page_size": size}).json()
        # Every job is a zhang-eccv16 one: the filter lists the same, through the ORM.
        queried = api.get(f"{API}/jobs", {"page_size": size, "model": "zhang-eccv16"}).json()
        assert prepared["results"] == queried["results"]
        assert _ids(prepared) == [str(job.id) for job in jobs[:size]]
        assert (prepared["next"] is None) == (size >= 5)


def test_cursors_lead_forwards_and_back(api_client, make_user) -> None:
    ann = make_user("ann")
    jobs = [str(job.id) for job in _jobs(ann, 5)]
    api = api_client(ann)
    first = api.get(f"{API}/jobs", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert (_ids(first), _ids(second), _ids(third)) == (jobs[:2], jobs[2:4], jobs[4:])
    assert third["next"] is None and first["previous"] is None
    back = api.get(third["previous"]).json()
    assert _ids(back) == jobs[2:4]
    assert _ids(api.get(back["previous"]).json()) == jobs[:2]


def test_the_first_page_and_the_token_are_kept_compiled(api_client, make_user) -> None:
    from accounts import services
    from colorize.api import job_pages

    ann = make_user("ann")
    _jobs(ann, 2)
    assert api_client(ann).get(f"{API}/jobs", {"page_size": 7}).status_code == 200
    for query in (job_pages._first_pages[8], services._LIVE_TOKEN):
        assert query._compiled and None not in query._compiled.values()
