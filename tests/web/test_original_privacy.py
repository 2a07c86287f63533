"""What an original reveals: its owner gets the file as sent; anyone else (a published photo's
visitors, through the site or the API) gets it without location or camera metadata, upright,
with its colour profile. And originals that are not 8-bit, or not shown by browsers, render
properly in thumbnails, JPEG copies and the before/after slider."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageCms

from colorize.models import Upload
from colorize.services import sharing
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

SERIAL = "SN-CAMERA-0042"
GPS_IFD, BODY_SERIAL, MAKE, ORIENTATION = 0x8825, 0xA431, 0x010F, 0x0112


def phone_jpeg() -> bytes:
    """A JPEG as a phone writes it: GPS position, camera make and serial, rotated 90° by its
    orientation tag (6), and a colour profile."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[ORIENTATION] = 6
    exif.get_ifd(0x8769)[BODY_SERIAL] = SERIAL
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = make_photo(120, 80, mode="RGB")
    return encode(photo, "JPEG", quality=90, exif=exif, icc_profile=profile)


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def published(colorize_photos, ann):
    job = colorize_photos(owner=ann, name="IMG_0001.jpg", content=phone_jpeg()).jobs.get()
    return sharing.job_publish(job=job)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_nothing_private(data: bytes, original: bytes) -> None:
    assert SERIAL.encode() not in data and b"PhoneMaker" not in data
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert GPS_IFD not in exif and MAKE not in exif and not exif.get_ifd(0x8769)
    assert exif.get(ORIENTATION, 1) == 1
    assert image.size == (80, 120)  # turned upright, as the orientation tag said
    assert image.info.get("icc_profile") == Image.open(io.BytesIO(original)).info["icc_profile"]


def test_the_owner_gets_the_original_as_sent(client, published, ann):
    client.force_login(ann)
    sent = published.upload.image.open("rb").read()
    response = client.get(reverse("colorize:job-original", args=[published.id]), {"download": 1})
    assert body(response) == sent and SERIAL.encode() in sent


def test_visitors_of_a_published_photo_get_no_location_or_camera(published):
    sent = published.upload.image.open("rb").read()
    for url in (
        reverse("colorize:job-original", args=[published.id]),
        reverse("colorize:job-original", args=[published.id]) + "?download=1",
        f"/api/v1/jobs/{published.id}/original",
    ):
        response = Client().get(url)
        assert response.status_code == 200, url
        assert_nothing_private(body(response), sent)
    jpeg = Client().get(reverse("colorize:job-original", args=[published.id]), {"format": "jpeg"})
    assert (
        SERIAL.encode() not in body(jpeg)
        and GPS_IFD not in Image.open(io.BytesIO(body(jpeg))).getexif()
    )


def test_the_copy_is_made_once_and_deleted_with_the_photo(
    published, client, ann, django_capture_on_commit_callbacks
):
    Client().get(reverse("colorize:job-original", args=[published.id]))
    Client().get(reverse("colorize:job-original", args=[published.id]))
    upload = Upload.objects.get()
    assert upload.rendition.name.startswith("renditions/")
    path = upload.rendition.path
    client.force_login(ann)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("colorize:job-delete", args=[published.id]))
    assert not Upload.objects.exists()
    assert not os.path.exists(path)


def test_publish_form_says_metadata_is_removed(client, colorize_photos, ann):
    job = colorize_photos(owner=ann).jobs.get()
    client.force_login(ann)
    page = client.get(reverse("colorize:job", args=[job.id])).content.decode()
    assert "location and camera details" in page


def _gray_16bit_png() -> bytes:
    values = (np.linspace(0.2, 0.6, 96 * 64).reshape(64, 96) * 65535).astype(np.uint16)
    return encode(Image.fromarray(values).convert("I;16"))


def _float_tiff() -> bytes:
    values = np.linspace(0.2, 0.6, 96 * 64, dtype=np.float32).reshape(64, 96)
    return encode(Image.fromarray(values, mode="F"), "TIFF")


@pytest.mark.parametrize("make", [_gray_16bit_png, _float_tiff], ids=["16-bit PNG", "float TIFF"])
def test_deep_originals_keep_their_tones_in_thumbnails_and_jpegs(
    client, colorize_photos, ann, make
):
    name = "deep.png" if make is _gray_16bit_png else "deep.tif"
    job = colorize_photos(owner=ann, content=make(), name=name).jobs.get()
    client.force_login(ann)
    for response in (
        client.get(reverse("colorize:job-thumbnail", args=[job.id, "original"])),
        client.get(reverse("colorize:job-original", args=[job.id]), {"format": "jpeg"}),
    ):
        mean = np.asarray(Image.open(io.BytesIO(body(response))).convert("L")).mean() / 255
        assert abs(mean - 0.4) < 0.05  # the photo's own mid-grey, not white or black


def test_a_tiff_original_is_shown_as_png_in_the_slider(client, colorize_photos, ann):
    job = colorize_photos(owner=ann, content=_float_tiff(), name="scan.tif").jobs.get()
    client.force_login(ann)
    shown = client.get(reverse("colorize:job-original", args=[job.id]))
    assert shown["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body(shown))).size == (96, 64)
    sent = client.get(reverse("colorize:job-original", args=[job.id]), {"download": 1})
    assert sent["Content-Type"] == "image/tiff"
    assert body(sent) == job.upload.image.open("rb").read()
