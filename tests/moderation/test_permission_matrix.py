"""Every page and action × (anonymous, other user, staff, suspended, owner).

The owner is Ann; "suspended" is Sue, who was signed in (and owns a job) when a moderator
suspended her: her session stops counting at once, so she gets what anonymous visitors get, even
for her own job. Others' private things are 404 (no existence leak); pages that need an account
send to the sign-in page; the admin sends everyone but active staff to its own sign-in.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from colorize.models import Job, ModerationAction

pytestmark = pytest.mark.django_db

# State-changing requests by the owner come last, so every role sees the same state.
ROLES = ("anonymous", "other", "staff", "suspended", "owner")


@pytest.fixture
def world(make_user, colorize_photos):
    ann, bob = make_user("ann"), make_user("bob")
    mod, sue = make_user("mod", is_staff=True), make_user("sue")
    batch = colorize_photos(owner=ann)
    job = batch.jobs.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    sues_job = colorize_photos(owner=sue).jobs.get()
    token, _ = account_services.token_create(ann, "script")
    clients = {role: Client() for role in ROLES}
    for role, user in (("owner", ann), ("other", bob), ("staff", mod), ("suspended", sue)):
        clients[role].force_login(user)
    account_services.suspend_user(user=sue, moderator=mod, reason="spam")
    return {
        "clients": clients,
        "job": job,
        "batch": batch,
        "sues_job": sues_job,
        "token": token,
        "ann": ann,
    }


def got(clients, method: str, url: str, data=None) -> dict[str, int]:
    return {role: getattr(clients[role], method)(url, data or {}).status_code for role in ROLES}


def expect(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


PRIVATE = expect(404, 404, 200, 404, 200)  # owner and staff only
NEEDS_ACCOUNT = expect(302, 200, 200, 302, 200)  # any signed-in, active account
SIGNED_OUT_ONLY = expect(200, 302, 302, 200, 302)  # sign-up and sign-in pages
STAFF_ONLY = expect(302, 302, 200, 302, 302)  # the admin


def test_site_pages(world):
    clients, job, batch = world["clients"], world["job"], world["batch"]
    pages = {
        reverse("colorize:job", args=[job.id]): PRIVATE,
        reverse("colorize:job-status", args=[job.id]): PRIVATE,
        reverse("colorize:job-original", args=[job.id]): PRIVATE,
        reverse("colorize:job-result", args=[job.id]): PRIVATE,
        reverse("colorize:job-thumbnail", args=[job.id, "original"]): PRIVATE,
        reverse("colorize:job-thumbnail", args=[job.id, "result"]): PRIVATE,
        reverse("colorize:batch", args=[batch.id]): PRIVATE,
        reverse("colorize:batch-status", args=[batch.id]): PRIVATE,
        reverse("colorize:batch-zip", args=[batch.id]): PRIVATE,
        reverse("colorize:compare", args=[batch.id]): expect(404, 404, 302, 404, 302),
        reverse("colorize:history"): NEEDS_ACCOUNT,
        reverse("colorize:home"): expect(200, 200, 200, 200, 200),
        reverse("colorize:gallery"): expect(200, 200, 200, 200, 200),
    }
    for url, expected in pages.items():
        assert got(clients, "get", url) == expected, url


def test_the_suspended_user_cannot_reach_her_own_content_but_staff_can(world):
    clients, sues_job = world["clients"], world["sues_job"]
    url = reverse("colorize:job", args=[sues_job.id])
    assert clients["suspended"].get(url).status_code == 404
    assert clients["staff"].get(url).status_code == 200
    assert Job.objects.filter(pk=sues_job.pk).exists()


def test_account_pages(world):
    clients = world["clients"]
    pages = {
        reverse("accounts:profile"): NEEDS_ACCOUNT,
        reverse("accounts:tokens"): NEEDS_ACCOUNT,
        reverse("accounts:password-change"): NEEDS_ACCOUNT,
        reverse("accounts:delete"): NEEDS_ACCOUNT,
        reverse("accounts:signup"): SIGNED_OUT_ONLY,
        reverse("accounts:login"): SIGNED_OUT_ONLY,
        reverse("accounts:password-reset"): expect(200, 200, 200, 200, 200),
    }
    for url, expected in pages.items():
        assert got(clients, "get", url) == expected, url
    # Logging out is a POST for everyone (it only ever signs the caller out).
    assert got(clients, "get", reverse("accounts:logout")) == expect(405, 405, 405, 405, 405)


def test_admin_pages(world):
    clients, job = world["clients"], world["job"]
    pages = [
        reverse("admin:index"),
        reverse("admin:colorize_job_changelist"),
        reverse("admin:colorize_job_change", args=[job.id]),
        reverse("admin:colorize_upload_changelist"),
        reverse("admin:colorize_upload_change", args=[job.upload_id]),
        reverse("admin:colorize_result_changelist"),
        reverse("admin:colorize_moderationaction_changelist"),
        reverse("admin:colorize_dashboard"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[world["ann"].pk]),
    ]
    for url in pages:
        assert got(clients, "get", url) == STAFF_ONLY, url
        # Those turned away go to the admin's sign-in.
        assert clients["suspended"].get(url).url.startswith(reverse("admin:login"))


def test_owner_actions(world):
    clients, job = world["clients"], world["job"]
    # Not the owner: 404 for everyone else, staff included (staff act in the admin).
    stranger = {"anonymous": 404, "other": 404, "staff": 404, "suspended": 404}
    for name in ("job-retry", "job-rerun", "job-publish", "job-unpublish"):
        statuses = got(clients, "post", reverse(f"colorize:{name}", args=[job.id]))
        owner = statuses.pop("owner")
        assert statuses == stranger, name
        assert owner in (302, 400), name  # 400: retry of a job that did not fail
    job.refresh_from_db()
    assert job.published_at is None  # published, then withdrawn, by its owner only
    statuses = got(clients, "post", reverse("colorize:job-delete", args=[job.id]))
    assert statuses == {**stranger, "owner": 302}
    assert not Job.objects.filter(pk=job.pk).exists()


def test_account_actions(world):
    clients, token = world["clients"], world["token"]
    revoke = reverse("accounts:token-revoke", args=[token.pk])
    assert got(clients, "post", revoke) == expect(302, 404, 404, 302, 302)
    token.refresh_from_db()
    assert token.revoked_at is not None  # by its owner, last
    # A wrong password deletes nothing, for anyone.
    statuses = got(clients, "post", reverse("accounts:delete"), {"password": "wrong"})
    assert statuses == expect(302, 400, 400, 302, 400)
    created = got(clients, "post", reverse("accounts:tokens"), {"name": "new"})
    assert created == expect(302, 200, 200, 302, 200)


def test_admin_actions(world):
    clients, job = world["clients"], world["job"]
    changelist = reverse("admin:colorize_job_changelist")
    data = {
        "action": "hide",
        "_selected_action": [str(job.id)],
        "confirm": "yes",
        "reason": "not a photo",
    }
    for role in ("anonymous", "other", "suspended", "owner"):
        response = clients[role].post(changelist, data)
        assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    job.refresh_from_db()
    assert not job.is_hidden and not ModerationAction.objects.filter(action="hide").exists()
    assert clients["staff"].post(changelist, data).status_code == 302
    job.refresh_from_db()
    assert job.is_hidden and job.hidden_reason == "not a photo"
    # Hidden: out of public view; the owner and staff still see it.
    statuses = got(clients, "get", reverse("colorize:job", args=[job.id]))
    assert statuses == PRIVATE
