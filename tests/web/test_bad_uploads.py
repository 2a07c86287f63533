"""Every kind of bad upload gets a clear 400 message, and nothing is stored; a bad photo among
good ones is named, and the good ones go on."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from colorize.models import Batch, Job, Upload
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def post(client, files, model="zhang-eccv16"):
    return client.post(reverse("colorize:home"), {"images": files, "model": model})


def assert_refused(response, message: str, media_root) -> None:
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Batch.objects.count() == Upload.objects.count() == Job.objects.count() == 0
    assert not any(p.is_file() for p in media_root.rglob("*")) if media_root.exists() else True


def test_not_an_image(client, media_root):
    response = post(client, [SimpleUploadedFile("notes.png", b"these are words, not pixels")])
    assert_refused(response, "notes.png could not be read: it is not a valid image.", media_root)


def test_truncated_image(client, media_root):
    data = encode(make_photo(200, 200), "JPEG", quality=90)
    response = post(client, [SimpleUploadedFile("cut.jpg", data[: len(data) // 2])])
    assert_refused(response, "cut.jpg could not be read: it is truncated.", media_root)


def test_every_refused_file_is_named_at_once(client, media_root):
    files = [
        SimpleUploadedFile("notes.png", b"these are words, not pixels"),
        SimpleUploadedFile("empty.png", b""),
    ]
    response = post(client, files)
    assert_refused(response, "notes.png could not be read: it is not a valid image.", media_root)
    assert "empty.png is empty (0 bytes)." in response.content.decode()


def test_bad_files_among_good_ones_are_named_and_the_good_ones_go_on(client, media_root):
    files = [
        SimpleUploadedFile("good.png", encode(make_photo())),
        SimpleUploadedFile("notes.png", b"these are words, not pixels"),
        SimpleUploadedFile("empty.png", b""),
    ]
    response = post(client, files)
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.upload.original_name == "good.png" and response.url == f"/jobs/{job.id}/"
    page = " ".join(client.get(response.url).content.decode().split())
    assert "Not sent: notes.png could not be read: it is not a valid image." in page
    assert "empty.png is empty (0 bytes). The other photos were." in page


def test_zero_bytes(client, media_root):
    response = post(client, [SimpleUploadedFile("empty.png", b"")])
    assert_refused(response, "empty.png is empty (0 bytes).", media_root)


def test_over_the_size_limit(client, media_root, settings):
    settings.COLORIA_MAX_UPLOAD_BYTES = 1024 * 1024
    data = encode(make_photo(1200, 1200, mode="RGB"), "BMP")
    response = post(client, [SimpleUploadedFile("big.bmp", data)])
    assert_refused(response, "the limit is 1 MB", media_root)


def test_decompression_bomb(client, media_root):
    # 100 megapixels of one colour compress to a few hundred kilobytes.
    data = encode(Image.new("L", (10_000, 10_000)), "PNG")
    response = post(client, [SimpleUploadedFile("bomb.png", data)])
    assert_refused(
        response, "bomb.png is 10000×10000 pixels; the limit is 40 megapixels.", media_root
    )


def test_unsupported_format(client, media_root):
    data = encode(make_photo(), "GIF")
    response = post(client, [SimpleUploadedFile("anim.gif", data)])
    assert_refused(response, "anim.gif is a GIF image, which is not supported.", media_root)


def test_one_bad_file_does_not_sink_the_batch_and_is_charged_nothing(client, media_root):
    from colorize.models import Usage

    goods = [SimpleUploadedFile(f"good{i}.png", encode(make_photo(seed=i))) for i in range(2)]
    bad = SimpleUploadedFile("bad.png", b"\x89PNG\r\n\x1a\n broken")
    response = post(client, [*goods, bad])
    assert response.status_code == 302 and response.url.startswith("/batches/")
    assert sorted(Upload.objects.values_list("original_name", flat=True)) == [
        "good0.png", "good1.png"
    ]  # fmt: skip
    assert sum(Usage.objects.values_list("jobs", flat=True)) == 2  # not 3


def test_the_api_still_refuses_a_request_with_a_bad_file_and_names_it(
    api_client, make_user, media_root
):
    good = SimpleUploadedFile("good.png", encode(make_photo()))
    bad = SimpleUploadedFile("bad.png", b"\x89PNG\r\n\x1a\n broken")
    api = api_client(make_user("ann"))
    response = api.post("/api/v1/jobs", {"images": [good, bad], "model": "zhang-eccv16"})
    assert response.status_code == 400 and "bad.png could not be read" in response.content.decode()
    assert Batch.objects.count() == Upload.objects.count() == 0


def test_the_upload_page_asks_for_json_and_keeps_its_photos_on_a_refusal(client, media_root):
    bad = SimpleUploadedFile("bad.png", b"\x89PNG\r\n\x1a\n broken")
    response = client.post(
        reverse("colorize:home"),
        {"images": [bad], "model": "zhang-eccv16"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "bad.png could not be read: it is not a valid image."}
    good = SimpleUploadedFile("good.png", encode(make_photo()))
    response = client.post(
        reverse("colorize:home"),
        {"images": [good], "model": "zhang-eccv16"},
        headers={"accept": "application/json"},
    )
    assert response.json() == {"redirect": f"/jobs/{Job.objects.get().id}/"}


def test_no_file(client, media_root):
    assert_refused(post(client, []), "Choose at least one image.", media_root)


def test_too_many_files(client, media_root, settings):
    files = [SimpleUploadedFile(f"p{i}.png", encode(make_photo(seed=i))) for i in range(6)]
    assert_refused(post(client, files), "At most 5 images can be sent at once.", media_root)


def test_unknown_model(client, media_root):
    response = post(client, [SimpleUploadedFile("p.png", encode(make_photo()))], model="nope")
    assert_refused(response, "Unknown model “nope”.", media_root)


def test_no_model_chosen(client, media_root):
    # A fresh install whose shipped models do not beat grey preselects none: the visitor must pick.
    response = post(client, [SimpleUploadedFile("p.png", encode(make_photo()))], model="")
    assert_refused(response, "Choose a model to colorize with.", media_root)


def test_model_without_weights(client, media_root):
    response = post(
        client, [SimpleUploadedFile("p.png", encode(make_photo()))], model="zhang-siggraph17"
    )
    name = "Zhang SIGGRAPH17 (official, colour hints)"
    assert_refused(response, f"{name} is not installed on this site", media_root)
    assert "fetch_weights" not in response.content.decode()  # no shell command for visitors


def test_a_form_from_a_stale_page_gets_the_sites_own_explanation(media_root):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)  # posts without the form's token, as a stale page
    response = browser.post(reverse("colorize:home"), {"model": "zhang-eccv16"})
    page = " ".join(response.content.decode().split())
    assert response.status_code == 403
    assert "This page was out of date" in page and "Nothing was sent or changed" in page
    assert "CSRF verification failed" not in page and "DEBUG" not in page
    assert not Upload.objects.exists()
