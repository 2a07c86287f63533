"""The admin's moderation actions do what they say, each recorded with who, what, when and why;
lists filter, search and show previews; the log is read-only; the dashboard counts right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import ml
from accounts import services as account_services
from accounts.models import AccountStatus
from colorize.models import Batch, Job, ModerationAction, Result, Upload
from colorize.selectors import dashboard
from colorize.services import moderation, running, sharing, storage, submission

pytestmark = pytest.mark.django_db

JOBS = "admin:colorize_job_changelist"
UPLOADS = "admin:colorize_upload_changelist"
RESULTS = "admin:colorize_result_changelist"
USERS = "admin:auth_user_changelist"


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def moderator(make_user):
    return make_user("mod", is_staff=True)


@pytest.fixture
def staff(client, moderator) -> Client:
    client.force_login(moderator)
    return client


@pytest.fixture
def ann(make_user):
    return make_user("ann")


def act(staff: Client, changelist: str, action: str, objects, reason: str | None = "why not"):
    """Run an admin action: first the page that asks for the reason, then the confirmation."""
    selected = [str(obj.pk) for obj in objects]
    url = reverse(changelist)
    asked = staff.post(url, {"action": action, "_selected_action": selected, "index": 0})
    assert asked.status_code == 200, asked.content[:500]
    assert 'name="reason"' in asked.content.decode()
    if reason is None:
        return asked
    return staff.post(
        url,
        {"action": action, "_selected_action": selected, "confirm": "yes", "reason": reason},
        follow=True,
    )


def record(action: str) -> ModerationAction:
    return ModerationAction.objects.get(action=action)


# --- Jobs -----------------------------------------------------------------------------------


def test_hide_takes_a_job_out_of_public_view_with_its_reason(
    staff, moderator, ann, colorize_photos
):
    job = sharing.job_publish(job=colorize_photos(owner=ann).jobs.get())
    assert str(job.id) in text(Client().get(reverse("colorize:gallery")))
    done = act(staff, JOBS, "hide", [job], reason="Not a  photo")
    assert "Hid 1 job(s)." in text(done)
    job.refresh_from_db()
    assert job.is_hidden and job.hidden_reason == "Not a photo"
    assert job.is_published  # kept: unhiding returns it to the gallery
    assert str(job.id) not in text(Client().get(reverse("colorize:gallery")))
    assert Client().get(reverse("colorize:job", args=[job.id])).status_code == 404
    owner = Client()
    owner.force_login(ann)
    page = text(owner.get(reverse("colorize:job", args=[job.id])))
    assert "Hidden by a moderator" in page and "Reason: Not a photo" in page
    entry = record("hide")
    assert entry.moderator == moderator and entry.subject_user == ann
    assert entry.target_type == "job" and entry.target_id == str(job.id)
    assert entry.reason == "Not a photo" and entry.created_at <= timezone.now()
    # Hiding again changes nothing and records nothing.
    again = act(staff, JOBS, "hide", [job], reason="twice")
    assert "1 job(s) were hidden already" in text(again)
    assert ModerationAction.objects.filter(action="hide").count() == 1

    act(staff, JOBS, "unhide", [job], reason="appeal accepted")
    job.refresh_from_db()
    assert not job.is_hidden and job.hidden_reason == ""
    assert str(job.id) in text(Client().get(reverse("colorize:gallery")))
    assert record("unhide").reason == "appeal accepted"


def test_an_action_without_a_reason_does_nothing(staff, ann, colorize_photos):
    job = colorize_photos(owner=ann).jobs.get()
    url = reverse(JOBS)
    response = staff.post(
        url, {"action": "hide", "_selected_action": [str(job.id)], "confirm": "yes", "reason": " "}
    )
    assert response.status_code == 200
    assert "Give a reason" in text(response) or "This field is required" in text(response)
    job.refresh_from_db()
    assert not job.is_hidden and not ModerationAction.objects.exists()


def test_cancel_stops_queued_jobs_and_leaves_finished_ones(
    staff, ann, colorize_photos, media_root, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import encode, make_photo

    finished = colorize_photos(owner=ann).jobs.get()
    settings.COLORIA_SYNC_JOBS = False
    queued = submission.job_submit(
        files=[SimpleUploadedFile("q.png", encode(make_photo()))],
        model_key="zhang-eccv16",
        owner=ann,
    ).jobs.get()
    done = text(act(staff, JOBS, "cancel", [finished, queued], reason="stuck worker"))
    assert "Cancelled 1 job(s)." in done and "1 job(s) had finished already" in done
    queued.refresh_from_db()
    assert queued.status == Job.Status.FAILED
    assert queued.error == "Cancelled by a moderator. Reason: stuck worker"
    assert queued.finished_at is not None
    finished.refresh_from_db()
    assert finished.status == Job.Status.SUCCEEDED
    # A worker that picks the cancelled job up later leaves it alone.
    running.job_run(job_id=queued.id)
    queued.refresh_from_db()
    assert queued.status == Job.Status.FAILED and not Result.objects.filter(job=queued).exists()
    assert ModerationAction.objects.filter(action="cancel").count() == 1


def run_interrupted(owner, monkeypatch, interrupt) -> Job:
    """Queue a real job of `owner`'s and run it; `interrupt(job)` happens once the model has
    run, before the result is stored (a moderator's cancel, the owner's delete)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import encode, make_photo

    job = submission.job_submit(
        files=[SimpleUploadedFile("q.png", encode(make_photo()))],
        model_key="zhang-eccv16",
        owner=owner,
    ).jobs.get()
    real_colorize = ml.colorize

    def colorize_then_interrupted(*args, **kwargs):
        image = real_colorize(*args, **kwargs)  # the real model run
        interrupt(Job.objects.get(pk=job.pk))
        return image

    monkeypatch.setattr(ml, "colorize", colorize_then_interrupted)
    assert running.job_run(job_id=job.id) == Job.objects.filter(pk=job.pk).first()
    return job


def assert_no_result_files(media_root: Path) -> None:
    results = media_root / "results"
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*"))


def test_a_job_cancelled_while_running_drops_its_result(ann, moderator, media_root, monkeypatch):
    def cancel(job: Job) -> None:
        moderation.job_cancel(job=job, moderator=moderator, reason="cancelled mid-run")

    job = run_interrupted(ann, monkeypatch, cancel)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "cancelled mid-run" in job.error
    assert not Result.objects.filter(job=job).exists()
    assert_no_result_files(media_root)


def test_a_job_deleted_by_its_owner_while_running_ends_quietly(ann, media_root, monkeypatch):
    # As DELETE /api/v1/jobs/<id>: job_run returns None, with no traceback and no failed task.
    run_interrupted(ann, monkeypatch, lambda job: storage.job_delete(job=job))
    assert not Job.objects.exists() and not Result.objects.exists()
    assert_no_result_files(media_root)


def test_rerun_queues_failed_jobs_again_and_succeeded_ones_anew(
    staff, ann, colorize_photos, django_capture_on_commit_callbacks
):
    failed = colorize_photos(owner=ann).jobs.get()
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, error="boom")
    succeeded = colorize_photos(owner=ann, params={"temperature": 0.3}).jobs.get()
    with django_capture_on_commit_callbacks(execute=True):  # the re-runs run (synchronously)
        done = text(act(staff, JOBS, "rerun", [failed, succeeded], reason="worker fixed"))
    assert "Queued 2 job(s) again." in done
    failed.refresh_from_db()
    assert failed.status == Job.Status.SUCCEEDED and failed.error == ""
    rerun = Job.objects.exclude(pk__in=[failed.pk, succeeded.pk]).get()
    assert rerun.upload_id == succeeded.upload_id and rerun.params == succeeded.params
    assert rerun.owner == ann and rerun.status == Job.Status.SUCCEEDED
    assert Result.objects.filter(job=succeeded).exists()  # the old result is kept
    assert ModerationAction.objects.filter(action="rerun").count() == 2


def test_rerun_refuses_a_job_that_is_still_queued(staff, ann, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import encode, make_photo

    queued = submission.job_submit(
        files=[SimpleUploadedFile("q.png", encode(make_photo()))],
        model_key="zhang-eccv16",
        owner=ann,
    ).jobs.get()
    done = text(act(staff, JOBS, "rerun", [queued], reason="again"))
    assert "is queued already: cancel it first" in done
    assert Job.objects.count() == 1 and not ModerationAction.objects.exists()


def test_delete_removes_the_job_with_its_files(
    staff, ann, colorize_photos, django_capture_on_commit_callbacks
):
    job = colorize_photos(owner=ann).jobs.get()
    paths = [Path(job.upload.image.path), Path(job.result.image.path)]
    with django_capture_on_commit_callbacks(execute=True):
        done = text(act(staff, JOBS, "delete_with_files", [job], reason="illegal content"))
    assert "Deleted 1 job(s) with their files." in done
    assert not Job.objects.exists() and not Upload.objects.exists() and not Batch.objects.exists()
    assert not any(path.exists() for path in paths)
    entry = record("delete")
    assert entry.target_id == str(job.id) and entry.subject_user == ann
    # The log still describes what was deleted.
    log = text(staff.get(reverse("admin:colorize_moderationaction_changelist")))
    assert f"job {job.id} (zhang-eccv16)" in log and "illegal content" in log


def test_the_default_delete_is_not_offered(staff, ann, colorize_photos):
    job = colorize_photos(owner=ann).jobs.get()
    page = staff.get(reverse(JOBS)).content.decode()
    assert 'value="delete_selected"' not in page
    assert staff.get(reverse("admin:colorize_job_delete", args=[job.id])).status_code == 403
    assert staff.post(reverse("admin:colorize_job_change", args=[job.id]), {}).status_code == 403


# --- Photos and results -----------------------------------------------------------------------


def test_upload_hide_and_delete(
    staff, ann, colorize_photos, hint_model, django_capture_on_commit_callbacks
):
    batch = colorize_photos(owner=ann, model="all")
    upload = batch.uploads.get()
    assert batch.jobs.count() == 2
    act(staff, UPLOADS, "hide", [upload], reason="private document")
    assert batch.jobs.filter(hidden_at__isnull=False).count() == 2
    assert set(batch.jobs.values_list("hidden_reason", flat=True)) == {"private document"}
    assert record("hide").target_type == "upload"

    paths = [Path(upload.image.path)] + [Path(job.result.image.path) for job in batch.jobs.all()]
    with django_capture_on_commit_callbacks(execute=True):
        done = text(act(staff, UPLOADS, "delete_with_files", [upload], reason="gone"))
    assert "Deleted 1 photo(s) with their jobs, results and files." in done
    assert not Upload.objects.exists() and not Job.objects.exists() and not Batch.objects.exists()
    assert not any(path.exists() for path in paths)


def test_result_hide_and_delete(staff, ann, colorize_photos, django_capture_on_commit_callbacks):
    first, second = (colorize_photos(owner=ann).jobs.get() for _ in range(2))
    act(staff, RESULTS, "hide", [first.result], reason="offensive")
    first.refresh_from_db()
    assert first.is_hidden and first.hidden_reason == "offensive"
    result_path = Path(second.result.image.path)
    with django_capture_on_commit_callbacks(execute=True):
        act(staff, RESULTS, "delete_with_files", [second.result], reason="offensive too")
    assert not Job.objects.filter(pk=second.pk).exists() and not result_path.exists()


def test_lists_show_thumbnails_that_staff_may_load(staff, ann, colorize_photos):
    job = colorize_photos(owner=ann).jobs.get()
    for changelist, kinds in (
        (JOBS, ("original", "result")),
        (UPLOADS, ("original",)),
        (RESULTS, ("result",)),
    ):
        page = staff.get(reverse(changelist)).content.decode()
        for kind in kinds:
            thumb = reverse("colorize:job-thumbnail", args=[job.id, kind])
            img = rf'<img src="{re.escape(thumb)}" alt="[^"]+"'
            assert re.search(img, page), (changelist, kind)
            image = staff.get(thumb)
            assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    detail = text(staff.get(reverse("admin:colorize_job_change", args=[job.id])))
    assert reverse("colorize:job-result", args=[job.id]) in detail
    assert "Run time" in detail or "run time" in detail


def test_job_list_filters_and_search(staff, ann, make_user, colorize_photos, hint_model):
    bob = make_user("bob")
    anns = colorize_photos(owner=ann).jobs.get()
    bobs = colorize_photos(owner=bob, model=hint_model).jobs.get()
    Job.objects.filter(pk=bobs.pk).update(status=Job.Status.FAILED, error="Out of memory")
    url = reverse(JOBS)

    def ids(params) -> set[str]:
        page = staff.get(url, params)
        assert page.status_code == 200, params
        return {job_id for job_id in (str(anns.id), str(bobs.id)) if job_id[:8] in text(page)}

    assert ids({}) == {str(anns.id), str(bobs.id)}
    assert ids({"status__exact": "failed"}) == {str(bobs.id)}
    assert ids({"model_key__exact": hint_model}) == {str(bobs.id)}
    assert ids({"owner__id__exact": ann.pk}) == {str(anns.id)}
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert ids({"queued_at__gte": today.isoformat()}) == {str(anns.id), str(bobs.id)}
    assert ids({"hidden": "yes"}) == set()
    assert ids({"q": "bob@example.com"}) == {str(bobs.id)}
    assert ids({"q": str(anns.id)}) == {str(anns.id)}
    assert ids({"q": str(anns.id)[:8]}) == {str(anns.id)}
    assert ids({"q": "%%% not an id ???"}) == set()
    assert "Out of memory" in text(staff.get(url))  # the error message is in the list
    assert ids({"upload": str(anns.upload_id)}) == {str(anns.id)}


# --- Users -------------------------------------------------------------------------------------


def test_suspend_and_reinstate_from_the_admin(staff, moderator, ann, colorize_photos):
    colorize_photos(owner=ann, count=2)
    listing = text(staff.get(reverse(USERS)))
    assert "ann@example.com" in listing
    assert re.search(r'owner__id__exact=\d+">2</a>', staff.get(reverse(USERS)).content.decode())

    done = text(act(staff, USERS, "suspend", [ann], reason="spam uploads"))
    assert "Suspended 1 user(s)." in done
    ann.refresh_from_db()
    assert not ann.is_active
    status = AccountStatus.objects.get(user=ann)
    assert status.suspended_by == moderator and status.suspended_reason == "spam uploads"
    assert Job.objects.filter(owner=ann).count() == 2  # content kept
    assert "suspended" in text(staff.get(reverse(USERS), {"suspended": "yes"}))
    page = text(staff.get(reverse("admin:auth_user_change", args=[ann.pk])))
    assert "Suspended on" in page and "spam uploads" in page

    act(staff, USERS, "reinstate", [ann], reason="cleared up")
    ann.refresh_from_db()
    assert ann.is_active and not account_services.is_suspended(ann)
    assert [a.action for a in ModerationAction.objects.order_by("created_at")] == [
        "suspend",
        "reinstate",
    ]


def test_moderators_cannot_suspend_themselves_or_superusers(staff, moderator, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-horse")
    done = text(act(staff, USERS, "suspend", [moderator, root], reason="test"))
    assert "cannot suspend or reinstate your own account" in done
    assert "Only a superuser may suspend or reinstate root" in done
    moderator.refresh_from_db()
    root.refresh_from_db()
    assert moderator.is_active and root.is_active and not ModerationAction.objects.exists()


def test_is_active_changes_only_through_the_actions(client, django_user_model, ann):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-horse")
    client.force_login(root)
    page = client.get(reverse("admin:auth_user_change", args=[ann.pk])).content.decode()
    assert 'name="is_active"' not in page


# --- The log and the dashboard ------------------------------------------------------------------


def test_the_moderation_log_is_read_only_even_for_superusers(
    client, django_user_model, moderator, ann, colorize_photos
):
    job = colorize_photos(owner=ann).jobs.get()
    moderation.job_hide(job=job, moderator=moderator, reason="spam")
    entry = ModerationAction.objects.get()
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-horse")
    client.force_login(root)
    log = client.get(reverse("admin:colorize_moderationaction_changelist"))
    page = text(log)
    assert "mod@example.com" in page and "Hide" in page and "spam" in page
    assert reverse("admin:colorize_job_change", args=[job.id]) in log.content.decode()
    change = reverse("admin:colorize_moderationaction_change", args=[entry.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"reason": "rewritten"}).status_code == 403
    assert client.get(reverse("admin:colorize_moderationaction_add")).status_code == 403
    delete = reverse("admin:colorize_moderationaction_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.reason == "spam"
    # The job's page links to its history.
    job_page = client.get(reverse("admin:colorize_job_change", args=[job.id])).content.decode()
    assert "1 recorded action(s)" in job_page
    filtered = client.get(
        reverse("admin:colorize_moderationaction_changelist"),
        {"target_type": "job", "target_id": str(job.id)},
    )
    assert filtered.status_code == 200 and "spam" in text(filtered)


def test_dashboard(staff, ann, colorize_photos, hint_model, media_root, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import encode, make_photo

    colorize_photos(owner=ann, count=2)
    failed = colorize_photos(owner=ann, model=hint_model).jobs.get()
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, error="boom")
    settings.COLORIA_SYNC_JOBS = False
    submission.job_submit(
        files=[SimpleUploadedFile("q.png", encode(make_photo()))],
        model_key="zhang-eccv16",
        owner=ann,
    )
    index = staff.get(reverse("admin:index")).content.decode()
    assert reverse("admin:colorize_dashboard") in index

    page = staff.get(reverse("admin:colorize_dashboard"))
    assert page.status_code == 200
    html = " ".join(page.content.decode().split())
    assert re.search(r'id="queued"><a [^>]*>1</a>', html)
    assert re.search(r'id="running"><a [^>]*>0</a>', html)
    assert 'data-status="succeeded">2<' in html and 'data-status="failed">1<' in html
    assert 'data-status="queued">1<' in html
    assert f'data-model="{hint_model}">1<' in html and 'data-model="zhang-eccv16">0<' in html

    board = dashboard.dashboard()
    on_disk = sum(p.stat().st_size for p in Path(media_root).rglob("*") if p.is_file())
    assert board.media.total_bytes == on_disk > 0
    assert board.media.files == 4 + 3  # 4 originals, 3 results
    assert board.failures_by_model[0].model_key == hint_model


def test_dashboard_survives_an_empty_site(staff, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "missing"
    page = staff.get(reverse("admin:colorize_dashboard"))
    assert page.status_code == 200
    assert "No job finished in the last 7 days" in text(page)


def test_an_administrator_deletes_a_user_with_their_photos_and_files(
    client, make_user, ann, colorize_photos, media_root, django_capture_on_commit_callbacks
):
    admin_user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    job = colorize_photos(owner=ann).jobs.get()
    files = [Path(job.upload.image.path), Path(job.result.image.path)]
    assert all(path.is_file() for path in files)
    url = reverse("admin:auth_user_delete", args=[ann.pk])
    page = text(client.get(url))
    assert "doesn't have permission" not in page and "Are you sure" in page

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"post": "yes"}, follow=True)
    assert done.status_code == 200
    assert not type(ann).objects.filter(pk=ann.pk).exists()
    assert not Job.objects.exists() and not Upload.objects.exists() and not Batch.objects.exists()
    assert not any(path.exists() for path in files)
    logged = record("delete")
    assert logged.target_type == "user" and logged.moderator == admin_user
    assert logged.subject_user is None  # the record stays; the person is gone from it


def test_a_moderator_without_delete_rights_cannot_delete_users(staff, ann):
    assert staff.get(reverse("admin:auth_user_delete", args=[ann.pk])).status_code == 403
