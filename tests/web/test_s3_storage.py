"""Photos in an S3 bucket: a real S3 server (moto's, on 127.0.0.1) started by the tests, and the
site, the API, the worker, expiry, account deletion and the dashboard working through it, with
nothing written to the local MEDIA_ROOT."""

from __future__ import annotations

import io
import os
import runpy
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from colorize.models import Job, Result, Upload
from colorize.selectors import dashboard
from colorize.services import expiry
from tests.conftest import encode, make_photo
from tests.s3 import Bucket, environment, free_port, local_s3_server
from tests.web.helpers import assert_is_colorization_of

pytestmark = [pytest.mark.s3, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "site-a"  # the objects go under a prefix, as in a bucket shared with other things


@pytest.fixture(scope="module")
def s3_endpoint():
    with local_s3_server() as endpoint:
        yield endpoint


def s3_environment(endpoint: str, bucket: str) -> dict[str, str]:
    # A prefix as an operator might write it, slashes and all.
    return environment(endpoint, bucket, prefix=f"/{PREFIX}/")


def settings_with(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> dict:
    """coloria_site/settings.py evaluated afresh with these variables: the real settings code."""
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("COLORIA_S3_")]:
            patch.delenv(name)
        for name, value in variables.items():
            patch.setenv(name, value)
        return runpy.run_path(str(ROOT / "coloria_site" / "settings.py"))


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch, media_root):
    """A new empty bucket, and the site's STORAGES["default"] pointed at it by the settings'
    own code; MEDIA_ROOT is an empty folder that must stay empty."""
    store = Bucket(s3_endpoint, f"coloria-{uuid.uuid4().hex[:12]}", prefix=PREFIX)
    evaluated = settings_with(monkeypatch, s3_environment(s3_endpoint, store.name))
    # Setting STORAGES sends setting_changed: Django drops its cached storages, and FileFields
    # (which hold the lazy default_storage) use the bucket from the next access on.
    settings.STORAGES = {**settings.STORAGES, "default": evaluated["STORAGES"]["default"]}
    media_root.mkdir(parents=True, exist_ok=True)
    yield store
    assert list(media_root.rglob("*")) == [], "something was written to the local MEDIA_ROOT"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_settings_choose_the_bucket_from_the_environment(monkeypatch):
    local = settings_with(monkeypatch, {})["STORAGES"]
    assert local["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert local["staticfiles"]["BACKEND"]  # the static files' entry is kept

    environment = s3_environment("https://s3.example", "photos")
    s3 = settings_with(monkeypatch, environment)["STORAGES"]
    assert s3["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["default"]["OPTIONS"]
    assert options["bucket_name"] == "photos" and options["endpoint_url"] == "https://s3.example"
    assert options["location"] == PREFIX and options["region_name"] == "us-east-1"
    # No ACL granting anyone else (objects are private), no signed links past the views.
    assert options["default_acl"] is None and options["querystring_auth"] is False
    assert s3["staticfiles"] == local["staticfiles"]


def test_a_photo_goes_through_the_bucket_from_upload_to_download(
    bucket, api_client, make_user, settings, django_capture_on_commit_callbacks, client
):
    from django.core.files.storage import storages

    assert type(storages["default"]).__name__ == "S3Storage"

    settings.COLORIA_SYNC_JOBS = True
    ann = make_user("ann")
    api = api_client(ann)
    photo = make_photo(120, 80)
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job
        response = api.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("grandma.png", encode(photo))], "model": "zhang-eccv16"},
        )
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED, job.error

    keys = bucket.object_keys()
    assert f"{PREFIX}/{job.upload.image.name}" in keys
    assert f"{PREFIX}/{job.result.image.name}" in keys
    assert job.result.image.name.startswith("results/") and len(keys) == 2
    stored_result = bucket.read(job.result.image.name)
    assert_is_colorization_of(stored_result, photo)
    assert bucket.read(job.upload.image.name) == encode(photo)
    # Private: no grant to anyone but the bucket's owner (moto does not enforce grants, S3 does).
    acl = bucket.client.get_object_acl(Bucket=bucket.name, Key=f"{PREFIX}/{job.result.image.name}")
    assert all("AllUsers" not in str(grant["Grantee"]) for grant in acl["Grants"])

    # The API's result download and the site's, both read from the bucket.
    api_png = api.get(f"/api/v1/jobs/{job.id}/result")
    assert api_png.status_code == 200 and body(api_png) == stored_result
    assert body(api.get(f"/api/v1/jobs/{job.id}/original")) == encode(photo)
    client.force_login(ann)
    site_png = client.get(reverse("colorize:job-result", args=[job.id]))
    assert site_png.status_code == 200 and body(site_png) == stored_result
    page = client.get(reverse("colorize:job", args=[job.id]))
    assert page.status_code == 200 and bucket.name not in page.content.decode()
    thumb = client.get(reverse("colorize:job-thumbnail", args=[job.id, "result"]))
    assert Image.open(io.BytesIO(body(thumb))).format == "JPEG"
    side = client.get(reverse("colorize:job-side-by-side", args=[job.id]))
    assert Image.open(io.BytesIO(body(side))).size[0] > 2 * 120 - 10

    # Someone else gets nothing, whatever they know of the stored names.
    bob = api_client(make_user("bob"))
    assert bob.get(f"/api/v1/jobs/{job.id}/result").status_code == 404

    # Deleting the job through the API deletes its objects.
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/jobs/{job.id}").status_code == 204
    assert bucket.object_keys() == set()


def test_a_batch_zip_and_renditions_come_from_the_bucket(
    bucket, colorize_photos, make_user, client
):
    ann = make_user("ann")
    batch = colorize_photos(owner=ann, count=2, name="street.png")
    jobs = list(batch.jobs.all())
    client.force_login(ann)
    archive = client.get(reverse("colorize:batch-zip", args=[batch.id]))
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(body(archive))) as bundle:
        contents = sorted(bundle.read(name) for name in bundle.namelist())
    assert contents == sorted(bucket.read(job.result.image.name) for job in jobs)

    # A published photo's visitors get its web rendition, made on first use, in the bucket.
    from colorize.services import sharing

    sharing.job_publish(job=jobs[0])
    visitor = client.__class__()
    shown = visitor.get(reverse("colorize:job-original", args=[jobs[0].id]))
    assert shown.status_code == 200
    upload = Upload.objects.get(pk=jobs[0].upload_id)
    assert upload.rendition.name.startswith("renditions/")
    assert body(shown) == bucket.read(upload.rendition.name)


def test_expiry_deletes_anonymous_photos_from_the_bucket(
    bucket, colorize_photos, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    kept = colorize_photos(owner=None, session_key="k" * 32).jobs.get()
    gone = colorize_photos(owner=None, session_key="g" * 32).jobs.get()
    kept_keys = {f"{PREFIX}/{kept.upload.image.name}", f"{PREFIX}/{kept.result.image.name}"}
    assert len(bucket.object_keys()) == 4
    Upload.objects.filter(pk=gone.upload_id).update(expires_at=timezone.now())
    Upload.objects.filter(pk=kept.upload_id).update(expires_at=None)

    with django_capture_on_commit_callbacks(execute=True):  # objects go once the rows have
        assert expiry.purge_expired_uploads() == 1
    assert bucket.object_keys() == kept_keys
    assert not Result.objects.filter(job_id=gone.id).exists()


def test_deleting_an_account_deletes_its_objects(
    bucket, colorize_photos, make_user, client, django_capture_on_commit_callbacks, fast_passwords
):
    ann, bob = make_user("ann"), make_user("bob")
    colorize_photos(owner=ann, count=2)
    bobs = colorize_photos(owner=bob).jobs.get()
    assert len(bucket.object_keys()) == 6
    client.force_login(ann)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:delete"), {"password": "pw-horse"})
    assert response.status_code == 302
    assert bucket.object_keys() == {
        f"{PREFIX}/{bobs.upload.image.name}",
        f"{PREFIX}/{bobs.result.image.name}",
    }


def test_the_dashboard_measures_the_bucket(bucket, colorize_photos, make_user, client):
    colorize_photos(owner=make_user("ann"), count=2)
    sizes = {
        key: bucket.client.head_object(Bucket=bucket.name, Key=key)["ContentLength"]
        for key in bucket.object_keys()
    }
    usage = dashboard.media_usage()
    assert usage.where == "bucket" and usage.complete and usage.files == 4
    assert usage.total_bytes == sum(sizes.values())
    assert usage.originals_bytes == sum(v for k, v in sizes.items() if "/originals/" in k)
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get(reverse("admin:colorize_dashboard"))
    assert page.status_code == 200
    html = " ".join(page.content.decode().split())
    assert "Bucket space used by photos" in html and "in 4 files" in html
    assert "Free on that disk" not in html


def test_the_dashboard_says_at_least_when_the_bucket_holds_more_than_it_lists(
    bucket, colorize_photos, make_user, client, monkeypatch
):
    colorize_photos(owner=make_user("ann"), count=2)  # 4 objects
    monkeypatch.setattr(dashboard, "BUCKET_LIST_LIMIT", 2)
    usage = dashboard.media_usage()
    assert not usage.complete and usage.files == 2
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    html = " ".join(client.get(reverse("admin:colorize_dashboard")).content.decode().split())
    assert "at least" in html and "in 2 files" in html


def test_the_dashboard_renders_when_the_bucket_is_unreachable(settings, make_user, client):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "nowhere", "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "region_name": "us-east-1", "access_key": "x", "secret_key": "y",
            },
        },
    }  # fmt: skip
    started = time.monotonic()
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:colorize_dashboard"))
    assert page.status_code == 200
    assert "The bucket could not be listed just now" in page.content.decode()
    assert time.monotonic() - started < 60


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_another_machine_needs_only_the_database_broker_and_bucket(
    bucket, s3_endpoint, settings, api_client, make_user, random_weights_dir, tmp_path
):
    """A real qcluster process with a data directory and MEDIA_ROOT of its own (as on another
    machine, where neither exists): it reads the original from the bucket and writes the
    result there, and the site serves that result."""
    from tests.web.cluster import Cluster, wait_for

    settings.COLORIA_SYNC_JOBS = False
    elsewhere = tmp_path / "other-machine"
    cluster = Cluster(
        tmp_path / "qcluster.log",
        **s3_environment(s3_endpoint, bucket.name),
        COLORIA_DATA_DIR=str(elsewhere / "data"),
        COLORIA_MEDIA_ROOT=str(elsewhere / "media"),
        COLORIA_WEIGHTS_DIR=str(random_weights_dir),
        COLORIA_WORKERS="1",
    )
    try:
        ann = make_user("ann")
        api = api_client(ann)
        photo = make_photo(96, 64)
        response = api.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(photo))], "model": "zhang-eccv16"},
        )
        assert response.status_code == 202, response.content
        job = Job.objects.get()
        wait_for(
            lambda: Job.objects.get(pk=job.pk).is_finished, 180, "the worker runs the job",
            [cluster],
        )  # fmt: skip
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert f"{PREFIX}/{job.result.image.name}" in bucket.object_keys()
        result = api.get(f"/api/v1/jobs/{job.id}/result")
        assert result.status_code == 200
        assert_is_colorization_of(body(result), photo)
        assert not (elsewhere / "media").exists()
    finally:
        print(cluster.stop()[-4000:])


def test_a_deletion_that_fails_is_logged_and_the_rows_still_go(
    bucket, colorize_photos, make_user, settings, django_capture_on_commit_callbacks, caplog
):
    from colorize.services import storage

    job = colorize_photos(owner=make_user("ann")).jobs.get()
    keys = bucket.object_keys()
    # The bucket cannot be reached from now on (botocore's errors are no OSError).
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
    with django_capture_on_commit_callbacks(execute=True):
        storage.job_delete(job=job)
    assert not Job.objects.exists() and not Upload.objects.exists()
    assert "could not delete" in caplog.text
    assert bucket.object_keys() == keys  # left behind, and said so in the log


def test_a_reference_photo_is_kept_in_the_bucket_and_read_from_it(
    bucket, api_client, make_user, settings, client, django_capture_on_commit_callbacks
):
    from tests.ml.test_reference import _scene

    settings.COLORIA_SYNC_JOBS = True
    ann = make_user("ann")
    api = api_client(ann)
    photo = Image.fromarray(_scene()).convert("L")
    reference = SimpleUploadedFile("holiday.jpg", encode(Image.fromarray(_scene(seed=1)), "JPEG"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/jobs",
            {
                "images": [SimpleUploadedFile("house.png", encode(photo))],
                "model": "reference",
                "reference": reference,
            },
        )
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED, job.error  # the worker read it from the bucket
    name = job.upload.reference.name
    assert name.startswith("references/") and f"{PREFIX}/{name}" in bucket.object_keys()
    client.force_login(ann)
    shown = client.get(reverse("colorize:job-reference", args=[job.id]))
    assert shown.status_code == 200 and body(shown) == bucket.read(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/jobs/{job.id}").status_code == 204
    assert bucket.object_keys() == set()
