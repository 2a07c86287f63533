"""POST and DELETE /api/v1/jobs/{id}/share: an account's script makes and revokes a job's
unlisted share link, which then works (or not) on the site for anyone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from colorize.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(api_client, make_user, colorize_photos):
    ann = make_user("ann")
    job = colorize_photos(owner=ann).jobs.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job, api_client(ann)


def test_a_script_makes_and_revokes_a_share_link(world):
    job, api = world
    url = f"/api/v1/jobs/{job.id}/share"
    made = api.post(url)
    assert made.status_code == 201
    share_url = made.json()["share_url"]
    token = Job.objects.get(pk=job.pk).share_token
    assert share_url == f"http://testserver/s/{token}/"
    assert Client().get(share_url.removeprefix("http://testserver")).status_code == 200
    # Asking again answers the same link (200: nothing new was made).
    again = api.post(url)
    assert again.status_code == 200 and again.json() == {"share_url": share_url}

    revoked = api.delete(url)
    assert revoked.status_code == 200 and revoked.json() == {"share_url": None}
    assert Client().get(share_url.removeprefix("http://testserver")).status_code == 404
    new = api.post(url).json()["share_url"]
    assert new != share_url
    assert Client().get(share_url.removeprefix("http://testserver")).status_code == 404
    assert Client().get(new.removeprefix("http://testserver")).status_code == 200


def test_only_the_owner_may_share(world, api_client, make_user):
    job, _ = world
    url = f"/api/v1/jobs/{job.id}/share"
    assert api_client().post(url).status_code == 401
    for user in (make_user("bob"), make_user("mod", is_staff=True)):
        for method in ("post", "delete"):
            assert getattr(api_client(user), method)(url).status_code == 404, (user, method)
    assert Job.objects.get(pk=job.pk).share_token is None


def test_hidden_and_unfinished_jobs_cannot_be_shared(world):
    job, api = world
    Job.objects.filter(pk=job.pk).update(hidden_at=timezone.now(), hidden_reason="spam")
    response = api.post(f"/api/v1/jobs/{job.id}/share")
    assert response.status_code == 409 and "moderator" in response.json()["detail"]
    Job.objects.filter(pk=job.pk).update(hidden_at=None, status=Job.Status.QUEUED)
    response = api.post(f"/api/v1/jobs/{job.id}/share")
    assert response.status_code == 409 and "Only a colorized photo" in response.json()["detail"]
    assert Job.objects.get(pk=job.pk).share_token is None
