"""Colours from a reference photo through the API and the site: stored, checked, deleted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from colorize.models import Job, Upload
from tests.conftest import encode
from tests.ml.test_reference import _scene
from tests.web.helpers import wait_until

GPS_IFD = 0x8825


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("house.png", encode(Image.fromarray(_scene()).convert("L")))


def _reference(image: Image.Image | None = None, **options) -> SimpleUploadedFile:
    image = image or Image.fromarray(_scene(seed=1))
    return SimpleUploadedFile("holiday.jpg", encode(image, "JPEG", **options))


@pytest.fixture
def api(api_client, make_user, settings, media_root):
    settings.COLORIA_SYNC_JOBS = True
    return api_client(make_user("traveller"))


@pytest.mark.django_db(transaction=True)
def test_a_reference_lends_its_colours_and_is_kept_without_its_metadata(api):
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 30.0)}
    big = Image.fromarray(_scene(seed=1)).resize((1600, 1200))
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "reference",
                                         "reference": _reference(big, exif=exif)})  # fmt: skip
    assert response.status_code == 202, response.content
    (job,) = response.json()["jobs"]
    assert job["status"] == "succeeded", job
    body = b"".join(api.get(f"/api/v1/jobs/{job['id']}/result").streaming_content)
    result = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    sky, hills = result[10, 10].astype(int), result[150, 20].astype(int)
    assert sky[2] > sky[0] + 20 and hills[1] > hills[0] + 20  # blue sky, green hills
    upload = Upload.objects.get()
    kept = Image.open(upload.reference)
    assert kept.format == "PNG" and kept.width * kept.height <= 1_000_000
    assert not kept.getexif() and GPS_IFD not in kept.getexif()


@pytest.mark.django_db(transaction=True)
def test_deleting_the_job_deletes_its_reference(api):
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "reference",
                                         "reference": _reference()})  # fmt: skip
    (job,) = response.json()["jobs"]
    upload = Upload.objects.get()
    storage, name = upload.reference.storage, upload.reference.name
    assert storage.exists(name)
    assert api.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert not storage.exists(name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "reference", "reason"),
    [
        ("reference", None, "needs a reference photo"),
        ("zhang-eccv16", "colour", "does not use a reference photo"),
        ("reference", "grey", "has no colour"),
        ("reference", "text", "not a valid image"),
    ],
)
def test_bad_references_are_refused_with_the_reason(api, model, reference, reason):
    data = {"images": [_photo()], "model": model}
    if reference == "colour":
        data["reference"] = _reference()
    elif reference == "grey":
        data["reference"] = _reference(Image.fromarray(_scene()).convert("L").convert("RGB"))
    elif reference == "text":
        data["reference"] = SimpleUploadedFile("notes.jpg", b"not an image at all")
    response = api.post("/api/v1/jobs", data)
    assert response.status_code == 400, response.content
    assert reason in response.json()["reference"][0]
    assert not Job.objects.exists() and not Upload.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_form_takes_a_reference_and_the_result_shows_it(
    live_server, browser_page, settings, media_root, tmp_path
):
    settings.COLORIA_SYNC_JOBS = True
    photo, reference = tmp_path / "house.png", tmp_path / "holiday.png"
    photo.write_bytes(encode(Image.fromarray(_scene()).convert("L")))
    reference.write_bytes(encode(Image.fromarray(_scene(seed=1))))
    page = browser_page
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(photo))
    page.select_option("#model", "reference")
    page.set_input_files("#reference", str(reference))
    wait_until(page, "!document.querySelector('#reference-thumb').hidden")
    page.click("#reference-remove")
    assert page.locator("#reference-thumb").is_hidden()
    page.set_input_files("#reference", str(reference))
    page.click("#submit-button")
    page.wait_for_selector("#reference-photo")
    wait_until(page, "document.querySelector('#reference-photo').naturalWidth > 0")
    job = Job.objects.get()
    assert job.model_key == "reference" and job.status == Job.Status.SUCCEEDED
