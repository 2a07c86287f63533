"""Every endpoint × (anonymous, owner, other user, staff). Others' jobs are 404, never 403;
owner-only actions are 404 to staff too (staff moderate in the admin)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from colorize.models import Job
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "other", "staff")


@pytest.fixture
def world(api_client, make_user, colorize_photos):
    owner, other, staff = make_user("ann"), make_user("bob"), make_user("mod", is_staff=True)
    job = colorize_photos(owner=owner).jobs.get()  # a real model run on random weights
    assert job.status == Job.Status.SUCCEEDED, job.error
    clients = {
        "anonymous": api_client(),
        "owner": api_client(owner),
        "other": api_client(other),
        "staff": api_client(staff),
    }
    return job, clients


def statuses(clients, roles, method: str, name: str, job: Job | None = None) -> tuple[int, ...]:
    """The status each role gets for one request (the same request, one role after another)."""
    url = reverse(name, args=[job.id] if job else [])
    got = []
    for role in roles:
        response = getattr(clients[role], method)(url)
        if response.status_code == 401:  # a script is told which scheme to use
            assert response["WWW-Authenticate"] == "Token"
        got.append(response.status_code)
    return tuple(got)


def test_permission_matrix(world):
    """One job walked through its life; the expected statuses are in ROLES order. Requests that
    change the job run last in each step, so every role sees the same state."""
    job, clients = world
    others = ("anonymous", "other", "staff")

    def check(method: str, name: str, expected: tuple[int, ...], roles=ROLES) -> None:
        with_id = name != "api:models" and name != "api:jobs"
        got = statuses(clients, roles, method, name, job if with_id else None)
        assert got == expected, f"{method.upper()} {name}: {dict(zip(roles, got, strict=True))}"

    # A succeeded, private job.
    check("get", "api:models", (200, 200, 200, 200))
    check("get", "api:jobs", (401, 200, 200, 200))
    check("get", "api:job-detail", (404, 200, 404, 200))
    check("get", "api:job-result", (404, 200, 404, 200))
    check("get", "api:job-original", (404, 200, 404, 200))
    check("post", "api:job-retry", (401, 409, 404, 404))  # 409 for the owner: it did not fail
    for name in ("api:job-publish", "api:job-unpublish"):
        check("post", name, (401, 404, 404), roles=others)
    check("delete", "api:job-detail", (401, 404, 404), roles=others)
    assert not Job.objects.get(pk=job.pk).is_published

    # Published: anyone may read it; only its owner may change it.
    check("post", "api:job-publish", (200,), roles=("owner",))
    for name in ("api:job-detail", "api:job-result", "api:job-original"):
        check("get", name, (200, 200, 200, 200))
    check("post", "api:job-unpublish", (401, 404, 404), roles=others)
    check("delete", "api:job-detail", (401, 404, 404), roles=others)
    assert Job.objects.get(pk=job.pk).is_published

    # Withdrawn, then deleted.
    check("post", "api:job-unpublish", (200,), roles=("owner",))
    check("get", "api:job-detail", (404, 200, 404, 200))
    check("delete", "api:job-detail", (204,), roles=("owner",))
    check("get", "api:job-detail", (404, 404, 404, 404))


def test_submit_needs_an_account(world):
    _, clients = world
    got = {}
    for role in ROLES:
        photo = SimpleUploadedFile("p.png", encode(make_photo()))
        response = clients[role].post(
            reverse("api:jobs"), {"images": [photo], "model": "zhang-eccv16"}
        )
        got[role] = response.status_code
    assert got == {"anonymous": 401, "owner": 202, "other": 202, "staff": 202}


def test_history_lists_only_the_callers_jobs(world):
    job, clients = world
    mine = clients["owner"].get(reverse("api:jobs")).json()["results"]
    assert [j["id"] for j in mine] == [str(job.id)]
    assert clients["staff"].get(reverse("api:jobs")).json()["results"] == []


def test_anonymous_sessions_photos_are_not_in_the_api(client, colorize_photos):
    # Anonymous visitors' photos belong to a browser session; the API serves accounts only.
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    assert client.get(reverse("colorize:job", args=[job.id])).status_code == 200
    assert client.get(reverse("api:job-detail", args=[job.id])).status_code == 404
