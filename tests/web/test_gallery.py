"""Publishing to the gallery, withdrawing, moderation, and what strangers may see."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from colorize.models import Job
from colorize.services import errors, sharing

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def published(colorize_photos, ann) -> Job:
    job = colorize_photos(owner=ann, name="secret-family-name.png").jobs.get()
    return sharing.job_publish(job=job)


def test_owner_publishes_and_withdraws(client, colorize_photos, ann):
    job = colorize_photos(owner=ann).jobs.get()
    client.force_login(ann)
    response = client.post(reverse("colorize:job-publish", args=[job.id]))
    assert response.url == reverse("colorize:job", args=[job.id])
    job.refresh_from_db()
    assert job.is_published
    page = text(client.get(response.url))
    assert "Published" in page and "Withdraw from the gallery" in page
    client.post(reverse("colorize:job-unpublish", args=[job.id]))
    job.refresh_from_db()
    assert not job.is_published


def test_publishing_twice_keeps_the_first_date(published):
    first = published.published_at
    assert sharing.job_publish(job=published).published_at == first


def test_only_succeeded_jobs_can_be_published(client, colorize_photos, ann):
    job = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    job.refresh_from_db()
    with pytest.raises(errors.SubmissionError, match="Only a colorized photo"):
        sharing.job_publish(job=job)
    client.force_login(ann)
    response = client.post(reverse("colorize:job-publish", args=[job.id]))
    assert response.status_code == 400 and "Only a colorized photo" in text(response)
    assert not Job.objects.get(pk=job.pk).is_published


def test_hidden_jobs_cannot_be_published(colorize_photos, ann):
    job = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=job.pk).update(hidden_at=timezone.now(), hidden_reason="Not a photo")
    job.refresh_from_db()
    with pytest.raises(errors.SubmissionError, match="moderator"):
        sharing.job_publish(job=job)


def test_anonymous_results_cannot_be_published(client, colorize_photos):
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    response = client.post(reverse("colorize:job-publish", args=[job.id]))
    assert response.status_code == 400 and "Sign in to publish" in text(response)
    assert "Publish to the gallery" not in text(client.get(reverse("colorize:job", args=[job.id])))


def test_gallery_lists_published_pairs_only(client, colorize_photos, ann, published):
    colorize_photos(owner=ann)  # not published
    hidden = sharing.job_publish(job=colorize_photos(owner=ann).jobs.get())
    Job.objects.filter(pk=hidden.pk).update(hidden_at=timezone.now(), hidden_reason="spam")
    page = text(client.get(reverse("colorize:gallery")))
    assert page.count('class="card gallery-item"') == 1
    assert reverse("colorize:job-thumbnail", args=[published.id, "original"]) in page
    assert reverse("colorize:job-thumbnail", args=[published.id, "result"]) in page
    assert reverse("colorize:job", args=[published.id]) in page
    assert str(hidden.id) not in page
    assert "secret-family-name" not in page  # file names stay private


def test_gallery_is_empty_politely(client):
    assert "Nothing shared yet" in text(client.get(reverse("colorize:gallery")))


def test_a_published_result_is_public_and_read_only(published):
    stranger = Client()
    page = text(stranger.get(reverse("colorize:job", args=[published.id])))
    assert "A colorized photo" in page and 'id="result"' in page
    assert "secret-family-name" not in page
    for absent in (
        "Delete",
        "Withdraw",
        "Publish to the gallery",
        "This submission",
        "Back to your photos",
        ".zip",
    ):
        assert absent not in page, absent
    for name in ("colorize:job-result", "colorize:job-original", "colorize:job-status"):
        assert stranger.get(reverse(name, args=[published.id])).status_code == 200, name
    download = stranger.get(reverse("colorize:job-result", args=[published.id]), {"download": 1})
    assert "secret-family-name" not in download["Content-Disposition"]
    assert "coloria-" in download["Content-Disposition"]
    # Read-only: no retry, re-run, publish or delete, and its batch stays private.
    for name in ("colorize:job-delete", "colorize:job-unpublish", "colorize:job-rerun"):
        assert stranger.post(reverse(name, args=[published.id])).status_code == 404, name
    assert stranger.get(reverse("colorize:batch", args=[published.batch_id])).status_code == 404
    assert Job.objects.get(pk=published.pk).is_published


def test_a_hidden_result_is_seen_only_by_its_owner_and_staff(client, make_user, ann, published):
    Job.objects.filter(pk=published.pk).update(
        hidden_at=timezone.now(), hidden_reason="Reported <as> not a photo"
    )
    url = reverse("colorize:job", args=[published.id])
    assert Client().get(url).status_code == 404
    client.force_login(ann)
    page = text(client.get(url))
    assert "Hidden by a moderator" in page and "Reported &lt;as&gt; not a photo" in page
    assert "Publish to the gallery" not in page and "In the public gallery" not in page
    assert "anyone with its link can see it" not in page  # it was published, but is hidden
    assert "a moderator hid it" in page and "Withdraw from the gallery" in page
    staff = Client()
    staff.force_login(make_user("moderator", is_staff=True))
    assert "Hidden by a moderator" in text(staff.get(url))


def test_history_marks_published_and_hidden(client, colorize_photos, ann, published):
    hidden = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=hidden.pk).update(hidden_at=timezone.now(), hidden_reason="x")
    client.force_login(ann)
    page = text(client.get(reverse("colorize:history")))
    assert "In the gallery" in page and "Hidden by a moderator" in page
