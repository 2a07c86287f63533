"""The selectors whose queries are compiled once (coloria_site.prepared) answer as the ORM does:
who may see a job, a submission's order, the home page's latest jobs, the history's pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from colorize.models import Batch, Job, Upload
from colorize.selectors import access

pytestmark = pytest.mark.django_db


def _job(user, batch: Batch | None = None, *, model_key: str = "zhang-eccv16", **fields) -> Job:
    batch = batch or Batch.objects.create(owner=user, model_key=model_key)
    upload = Upload.objects.create(
        batch=batch, owner=user, image="originals/x.png", format="PNG", width=64, height=48,
        size_bytes=10, sha256="0" * 64,
    )  # fmt: skip
    return Job.objects.create(batch=batch, upload=upload, owner=user, model_key=model_key, **fields)


def test_who_may_see_a_job(make_user) -> None:
    ann, bob, mod = make_user("ann"), make_user("bob"), make_user("mod", is_staff=True)
    now = timezone.now()
    private = _job(ann)
    public = _job(ann, status=Job.Status.SUCCEEDED, published_at=now)
    hidden = _job(ann, status=Job.Status.SUCCEEDED, published_at=now, hidden_at=now)
    seen = {
        viewer: [
            job.pk
            for job in (private, public, hidden)
            if access.job_for_viewer(job_id=job.pk, user=user, session_key="") is not None
        ]
        for viewer, user in (("ann", ann), ("bob", bob), ("mod", mod), ("nobody", AnonymousUser()))
    }
    assert seen == {
        "ann": [private.pk, public.pk, hidden.pk],
        "bob": [public.pk],
        "mod": [private.pk, public.pk, hidden.pk],
        "nobody": [public.pk],
    }
    found = access.job_for_viewer(job_id=private.pk, user=ann, session_key="")
    assert (found.upload.width, found.batch.model_key) == (64, "zhang-eccv16")
    assert "result" not in found.__dict__  # no result: read with the job (select_related)
    assert not found.has_result


def test_a_submissions_job_ids_in_order(make_user) -> None:
    ann = make_user("ann")
    first = _job(ann)
    second = _job(ann, first.batch, model_key="siggraph17")
    assert access.batch_job_ids(first.batch) == list(
        access.batch_jobs(first.batch).values_list("id", flat=True)
    )
    assert access.batch_job_ids(first.batch) == [first.pk, second.pk]


def test_the_home_pages_latest_jobs(make_user) -> None:
    ann, bob = make_user("ann"), make_user("bob")
    jobs = [_job(ann, queued_at=timezone.now() - timedelta(minutes=n)) for n in range(6)]
    _job(bob)
    assert [job.pk for job in access.recent_jobs(user=ann, session_key="", limit=4)] == [
        job.pk for job in jobs[:4]
    ]
    assert len(access.recent_jobs(user=ann, session_key="", limit=15)) == 6
    assert access.recent_jobs(user=bob, session_key="", limit=4)[0].model_name


def test_history_pages_filtered_or_not(make_user) -> None:
    ann = make_user("ann")
    jobs = [_job(ann, queued_at=timezone.now() - timedelta(minutes=n)) for n in range(10)]
    _job(ann, jobs[0].batch, model_key="siggraph17", status=Job.Status.FAILED)
    first = access.history_page(user=ann)
    assert [group.batch.pk for group in first.object_list] == [j.batch_id for j in jobs[:8]]
    assert [len(group.jobs) for group in first.object_list] == [2, 1, 1, 1, 1, 1, 1, 1]
    assert first.paginator.count == 10
    last = access.history_page(user=ann, page=2)
    assert [group.batch.pk for group in last.object_list] == [j.batch_id for j in jobs[8:]]
    failed = access.history_page(user=ann, status="failed")
    assert [[job.status for job in g.jobs] for g in failed.object_list] == [["failed"]]
    assert {key for key, _ in access.history_models(user=ann)} == {"siggraph17", "zhang-eccv16"}


def test_an_empty_history(make_user) -> None:
    empty = access.history_page(user=make_user("ann"))
    assert (list(empty.object_list), empty.paginator.count, empty.number) == ([], 0, 1)
    assert access.history_models(user=make_user("bob")) == []


def test_none_and_prefetching_go_through_the_orm(make_user) -> None:
    from coloria_site.prepared import PreparedQuery

    ann = make_user("ann")
    published = _job(ann, published_at=timezone.now())
    private = _job(ann)
    by_date = PreparedQuery(
        Job,
        lambda at: Job.objects.filter(published_at=at).order_by("queued_at"),
        fields=("published_at",),
        stand_ins=((timezone.now(),), (timezone.now() - timedelta(days=1),)),
    )
    assert by_date.all(published.published_at) == [published]
    assert by_date.all(None) == [private]  # IS NULL, as the ORM writes it
    prefetching = PreparedQuery(
        Batch,
        lambda pk: Batch.objects.filter(pk=pk).prefetch_related("jobs"),
        fields=("id",),
        stand_ins=((published.batch_id,), (private.batch_id,)),
    )
    assert [job.pk for job in prefetching.first(private.batch_id).jobs.all()] == [private.pk]
    assert list(prefetching._compiled.values()) == [None]


def test_the_pages_queries_are_kept_compiled(make_user) -> None:
    """Not compiled each time (which would answer the same, only slower) on this database."""
    ann = make_user("ann")
    job = _job(ann)
    access.job_for_viewer(job_id=job.pk, user=ann, session_key="")
    access.batch_job_ids(job.batch)
    access.recent_jobs(user=ann, session_key="", limit=4)
    access.history_page(user=ann)
    access.history_models(user=ann)
    prepared = [
        access._JOB_FOR_SIGNED_IN, access._BATCH_JOB_IDS, access._recent_of_signed_in[4],
        access._SUBMISSION_COUNT, access._unfiltered_history[1], access._USER_MODEL_KEYS,
        *access._submission_pages.values(),
    ]  # fmt: skip
    for query in prepared:
        assert query._compiled and None not in query._compiled.values()
