"""Downloads: full-resolution PNG and JPEG, thumbnails, and a zip of the whole batch."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from colorize.models import Job
from colorize.services import running, submission

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def batch(client, colorize_photos):
    return colorize_photos(
        session_key=client.session.session_key, count=2, size=(120, 80), name="grandma.png"
    )


def test_png_download_is_the_full_result_as_an_attachment(client, batch):
    job = batch.jobs.order_by("upload__original_name").first()
    response = client.get(reverse("colorize:job-result", args=[job.id]), {"download": "1"})
    assert response["Content-Type"] == "image/png"
    disposition = response["Content-Disposition"]
    assert (
        disposition.startswith("attachment")
        and "0-grandma-colorized-zhang-eccv16.png" in disposition
    )
    image = Image.open(io.BytesIO(body(response)))
    assert image.format == "PNG" and image.size == (120, 80)


def test_jpeg_download(client, batch):
    job = batch.jobs.first()
    url = reverse("colorize:job-result", args=[job.id])
    response = client.get(url, {"format": "jpeg", "download": "1"})
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Disposition"].endswith('-colorized-zhang-eccv16.jpg"')
    image = Image.open(io.BytesIO(body(response)))
    assert image.format == "JPEG" and image.size == (120, 80) and image.mode == "RGB"
    inline = client.get(url, {"format": "jpeg"})
    assert inline["Content-Disposition"].startswith("inline")


def test_a_non_ascii_name_survives_in_both_download_formats(client, colorize_photos):
    name = "Großvater 1952 – Foto.png"
    job = colorize_photos(session_key=client.session.session_key, name=name).jobs.get()
    url = reverse("colorize:job-result", args=[job.id])
    for params in ({"download": "1"}, {"download": "1", "format": "jpeg"}):
        disposition = client.get(url, params)["Content-Disposition"]
        assert disposition.startswith("attachment; filename*=utf-8''Gro%C3%9Fvater")
        assert "=?utf-8?" not in disposition


def test_a_sideways_original_is_shown_upright_in_thumbnails_and_jpegs(
    client, colorize_photos, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 90, 90)).save(buffer, format="JPEG", exif=exif)
    upload = SimpleUploadedFile("sideways.jpg", buffer.getvalue(), content_type="image/jpeg")
    colorize_photos(session_key=client.session.session_key)  # sets up synchronous jobs
    with django_capture_on_commit_callbacks(execute=True):
        batch = submission.job_submit(
            files=[upload], model_key="zhang-eccv16", params=None, owner=None,
            session_key=client.session.session_key,
        )  # fmt: skip
    job = batch.jobs.get()
    assert Image.open(job.result.image.path).size == (240, 320)
    thumb = client.get(reverse("colorize:job-thumbnail", args=[job.id, "original"]))
    assert Image.open(io.BytesIO(thumb.content)).size == (240, 320)
    url = reverse("colorize:job-original", args=[job.id])
    jpeg = client.get(url, {"format": "jpeg"})
    assert Image.open(io.BytesIO(body(jpeg))).size == (240, 320)


def test_result_is_not_watermarked(client, batch):
    job = batch.jobs.first()
    served = body(client.get(reverse("colorize:job-result", args=[job.id])))
    with job.result.image.open("rb") as stored:
        assert served == stored.read()


def test_thumbnails_are_small_jpegs(client, colorize_photos):
    job = colorize_photos(session_key=client.session.session_key, size=(1200, 600)).jobs.get()
    for kind in ("original", "result"):
        response = client.get(reverse("colorize:job-thumbnail", args=[job.id, kind]))
        assert response["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (480, 240)


def test_zip_holds_every_result_of_the_batch(client, batch):
    response = client.get(reverse("colorize:batch-zip", args=[batch.id]))
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment")
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        names = sorted(archive.namelist())
        assert names == ["0-grandma-zhang-eccv16.png", "1-grandma-zhang-eccv16.png"]
        for name in names:
            assert Image.open(io.BytesIO(archive.read(name))).size == (120, 80)


def test_zip_skips_failed_jobs_and_needs_one_result(client, batch):
    first, second = batch.jobs.all()
    Job.objects.filter(pk=first.pk).update(status=Job.Status.FAILED)
    response = client.get(reverse("colorize:batch-zip", args=[batch.id]))
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        assert len(archive.namelist()) == 1
    Job.objects.filter(pk=second.pk).update(status=Job.Status.FAILED)
    assert client.get(reverse("colorize:batch-zip", args=[batch.id])).status_code == 404


def test_zip_names_do_not_collide(client, colorize_photos, settings):
    session_key = client.session.session_key
    batch = colorize_photos(session_key=session_key, count=1, name="same.png")
    job = batch.jobs.get()
    # A re-run of the same photo and model in the same batch.
    running.job_run(job_id=running.job_rerun(job=job, params={}).id)
    response = client.get(reverse("colorize:batch-zip", args=[batch.id]))
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        assert sorted(archive.namelist()) == ["same-zhang-eccv16-2.png", "same-zhang-eccv16.png"]


def test_strangers_cannot_download(batch):
    stranger = Client()
    job = batch.jobs.first()
    assert stranger.get(reverse("colorize:batch-zip", args=[batch.id])).status_code == 404
    url = reverse("colorize:job-result", args=[job.id])
    assert stranger.get(url, {"format": "jpeg"}).status_code == 404


def test_unfinished_job_has_no_result(client, batch):
    job = batch.jobs.first()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    assert client.get(reverse("colorize:job-result", args=[job.id])).status_code == 404
    thumbnail = reverse("colorize:job-thumbnail", args=[job.id, "result"])
    assert client.get(thumbnail).status_code == 404
