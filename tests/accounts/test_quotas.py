"""Quotas: jobs per 24 hours per account and per anonymous client, batch size and upload size,
each refused with a clear message, storing nothing and charging nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from colorize.models import Batch, Job, Upload, Usage
from colorize.services import errors, moderation, running, storage, submission
from colorize.services import quotas as quota_service
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


def photos(count: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"p{i}.png", encode(make_photo(seed=i))) for i in range(count)]


def submit(owner=None, count: int = 1, model: str = "zhang-eccv16", **extra):
    """Queue jobs without running them (their on_commit enqueue never runs in a test)."""
    return submission.job_submit(files=photos(count), model_key=model, owner=owner, **extra)


def files_in(root) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


@pytest.fixture
def quotas(settings, media_root):
    settings.COLORIA_DAILY_JOBS_PER_USER = 3
    settings.COLORIA_DAILY_JOBS_PER_ANONYMOUS = 2
    return settings


def test_an_account_may_queue_its_daily_quota_and_no_more(make_user, quotas, media_root):
    ann = make_user("ann")
    submit(ann, count=2)
    submit(ann, count=1)
    before = (Job.objects.count(), Upload.objects.count(), files_in(media_root))
    with pytest.raises(errors.QuotaExceeded) as refused:
        submit(ann, count=1)
    message = refused.value.message
    assert "Daily limit reached" in message and "3 jobs" in message and "3 are used" in message
    assert "Try again after" in message
    assert 0 < refused.value.retry_after <= 24 * 3600
    # Nothing stored, nothing charged.
    assert (Job.objects.count(), Upload.objects.count(), files_in(media_root)) == before
    assert sum(Usage.objects.values_list("jobs", flat=True)) == 3
    # Another account has its own quota.
    submit(make_user("bob"), count=3)


def test_the_message_says_when_enough_quota_is_free_again(make_user, quotas):
    ann = make_user("ann")
    now = timezone.now()
    Usage.objects.create(owner=ann, jobs=1, created_at=now - timedelta(hours=20))
    Usage.objects.create(owner=ann, jobs=2, created_at=now - timedelta(hours=2))
    with pytest.raises(errors.QuotaExceeded) as one:
        quota_service.quota_check(owner=ann, client="", jobs=1, now=now)
    assert abs(one.value.retry_after - 4 * 3600) <= 1  # the oldest job leaves the window
    with pytest.raises(errors.QuotaExceeded) as two:
        quota_service.quota_check(owner=ann, client="", jobs=2, now=now)
    assert abs(two.value.retry_after - 22 * 3600) <= 1  # the next two must leave too


def test_deleting_jobs_gives_no_quota_back(make_user, quotas, django_capture_on_commit_callbacks):
    ann = make_user("ann")
    batch = submit(ann, count=3)
    with django_capture_on_commit_callbacks(execute=True):
        for job in batch.jobs.all():
            storage.job_delete(job=job)
    with pytest.raises(errors.QuotaExceeded):
        submit(ann)


def test_usage_leaves_the_window_after_24_hours(make_user, quotas):
    ann = make_user("ann")
    Usage.objects.create(owner=ann, jobs=3, created_at=timezone.now() - timedelta(hours=25))
    submit(ann, count=3)
    assert quota_service.purge_old_usage() == 1
    assert Usage.objects.count() == 1


def test_a_request_bigger_than_the_quota_says_so(make_user, quotas, hint_model):
    ann = make_user("ann")
    quotas.COLORIA_DAILY_JOBS_PER_USER = 1
    with pytest.raises(errors.QuotaExceeded) as refused:
        submit(ann, count=1, model="all")  # two installed models: two jobs
    assert refused.value.retry_after is None
    assert "more than the daily limit of 1" in refused.value.message
    assert not Batch.objects.exists()


def test_zero_turns_a_quota_off(make_user, quotas):
    quotas.COLORIA_DAILY_JOBS_PER_USER = 0
    ann = make_user("ann")
    for _ in range(3):
        submit(ann, count=2)
    assert Job.objects.count() == 6


def test_anonymous_clients_are_counted_by_address_across_sessions(quotas):
    submit(session_key="first", client_address="198.51.100.7")
    submit(session_key="second", client_address="198.51.100.7")
    with pytest.raises(errors.QuotaExceeded) as refused:
        submit(session_key="third", client_address="198.51.100.7")
    assert "Without an account" in refused.value.message
    assert "Sign up for a free account" in refused.value.message
    submit(session_key="fourth", client_address="198.51.100.8")  # another address
    # Addresses are not stored as such.
    assert not Usage.objects.filter(client__contains="198.51").exists()


def test_the_upload_page_refuses_over_quota_with_429(client, quotas, media_root):
    page = client.get(reverse("colorize:home"))
    assert page.status_code == 200
    for _ in range(2):
        response = client.post(
            reverse("colorize:home"),
            {"images": photos(1), "model": "zhang-eccv16"},
            REMOTE_ADDR="203.0.113.5",
        )
        assert response.status_code == 302
    other_session = Client()
    refused = other_session.post(
        reverse("colorize:home"),
        {"images": photos(1), "model": "zhang-eccv16"},
        REMOTE_ADDR="203.0.113.5",
    )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    page = text(refused)
    assert "Daily limit reached" in page and 'role="alert"' in page
    assert Job.objects.count() == 2


def test_the_api_refuses_over_quota_with_429_and_retry_after(make_user, quotas):
    from accounts.services import token_create

    ann = make_user("ann")
    _, key = token_create(ann, "script")
    api = Client(headers={"Authorization": f"Token {key}"})
    accepted = api.post(reverse("api:jobs"), {"images": photos(3), "model": "zhang-eccv16"})
    assert accepted.status_code == 202
    refused = api.post(reverse("api:jobs"), {"images": photos(1), "model": "zhang-eccv16"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Daily limit reached" in refused.json()["detail"]
    assert "Expected available" not in refused.json()["detail"]  # the wait is said once


def test_an_owners_rerun_counts_but_a_moderators_does_not(
    client, make_user, quotas, colorize_photos
):
    ann, moderator = make_user("ann"), make_user("mod", is_staff=True)
    job = colorize_photos(owner=ann, count=1).jobs.get()
    quotas.COLORIA_DAILY_JOBS_PER_USER = 2
    running.job_rerun(job=job, params={})  # 2 of 2
    client.force_login(ann)
    refused = client.post(reverse("colorize:job-rerun", args=[job.id]))
    assert refused.status_code == 429 and "Daily limit reached" in text(refused)
    moderation.job_requeue(job=job, moderator=moderator, reason="check the worker")
    assert Job.objects.filter(upload=job.upload).count() == 3


def test_batch_size_and_upload_size_limits_have_clear_messages(client, settings, media_root):
    settings.COLORIA_MAX_BATCH = 2
    too_many = client.post(reverse("colorize:home"), {"images": photos(3), "model": "zhang-eccv16"})
    assert too_many.status_code == 400
    assert "At most 2 images can be sent at once" in text(too_many)
    settings.COLORIA_MAX_UPLOAD_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.bmp", encode(make_photo(800, 600, mode="RGB"), "BMP"))
    too_big = client.post(reverse("colorize:home"), {"images": [big], "model": "zhang-eccv16"})
    assert too_big.status_code == 400
    assert "big.bmp is 1.4 MB; the limit is 1 MB" in text(too_big)
    assert not Job.objects.exists() and not Usage.objects.exists()
    assert files_in(media_root) == 0


def test_a_request_that_can_never_fit_is_a_400_not_a_429(client, make_user, quotas, hint_model):
    from accounts.services import token_create

    quotas.COLORIA_DAILY_JOBS_PER_ANONYMOUS = 1
    page = client.post(reverse("colorize:home"), {"images": photos(2), "model": "zhang-eccv16"})
    assert page.status_code == 400 and "Retry-After" not in page
    assert "more than the daily limit of 1" in text(page)
    quotas.COLORIA_DAILY_JOBS_PER_USER = 1
    _, key = token_create(make_user("ann"), "script")
    api = Client(headers={"Authorization": f"Token {key}"})
    refused = api.post(reverse("api:jobs"), {"images": photos(2), "model": "zhang-eccv16"})
    assert refused.status_code == 400
    assert "more than the daily limit of 1" in refused.json()["images"][0]


def test_the_expiry_schedule_forgets_old_usage(make_user, quotas):
    from colorize import tasks

    ann = make_user("ann")
    Usage.objects.create(owner=ann, jobs=1, created_at=timezone.now() - timedelta(days=2))
    Usage.objects.create(owner=ann, jobs=1)
    tasks.purge_expired()
    assert list(Usage.objects.values_list("jobs", flat=True)) == [1]
    assert quota_service.quota_status(owner=ann).used == 1
