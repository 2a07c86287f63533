"""Unlisted share links: an owner (signed in, or an anonymous visitor through their session)
makes a link to a result; anyone who has it sees the before/after page and its images, without
an account, until the owner revokes it, a moderator hides the photo, or the photo expires."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from colorize.models import Job, Upload
from colorize.services import errors, expiry, sharing, storage
from tests.conftest import encode, make_photo
from tests.web.helpers import wait_until

pytestmark = pytest.mark.django_db

SERIAL = "SN-SHARE-0042"
GPS_IFD, EXIF_IFD, MAKE, BODY_SERIAL = 0x8825, 0x8769, 0x010F, 0xA431


def text(response) -> str:
    return " ".join(response.content.decode().split())


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def camera_jpeg() -> bytes:
    """A JPEG as a camera writes it: make, serial number and GPS position in its EXIF."""
    exif = Image.Exif()
    exif[MAKE] = "CameraMaker"
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = SERIAL
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return encode(make_photo(96, 64, mode="RGB"), "JPEG", quality=90, exif=exif)


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def job(colorize_photos, ann) -> Job:
    return colorize_photos(
        owner=ann, name="secret-family-name.jpg", content=camera_jpeg()
    ).jobs.get()


def share_path(client: Client, job: Job) -> str:
    """Make the link through the result page's form; its path (/s/<token>/)."""
    response = client.post(reverse("colorize:job-share", args=[job.id]))
    assert response.status_code == 302 and response.url == reverse("colorize:job", args=[job.id])
    job.refresh_from_db()
    assert job.share_token
    return reverse("colorize:shared", args=[job.share_token])


def meta(page: str, key: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', page)
    assert found, key
    return found.group(1)


def image_urls(job: Job) -> list[str]:
    token = job.share_token
    return [
        reverse("colorize:shared-result", args=[token]),
        reverse("colorize:shared-result", args=[token]) + "?format=jpeg&download=1",
        reverse("colorize:shared-original", args=[token]),
        reverse("colorize:shared-preview", args=[token]),
    ]


def assert_gone(path: str, job: Job | None = None) -> None:
    """The page (and, given the job as it was, its images) answer a friendly 404 to strangers."""
    response = Client().get(path)
    assert response.status_code == 404
    assert "Not found" in text(response) and "turned it off" in text(response)
    for url in image_urls(job) if job is not None else []:
        assert Client().get(url).status_code == 404, url


# --- Making, using and revoking a link -----------------------------------------------------------


def test_owner_shares_and_a_stranger_without_session_sees_the_page(client, job, ann):
    client.force_login(ann)
    page = text(client.get(reverse("colorize:job", args=[job.id])))
    assert "Create a share link" in page
    path = share_path(client, job)

    owner_page = client.get(reverse("colorize:job", args=[job.id])).content.decode()
    assert f'value="http://testserver{path}"' in owner_page  # the visible field, to copy by hand
    assert 'id="copy-share-url"' in owner_page and "js/share.js" in owner_page
    assert "Turn off the link" in owner_page and "Share link made" in owner_page

    stranger = Client()
    response = stranger.get(path)
    assert response.status_code == 200 and not stranger.cookies.get("sessionid")
    page = response.content.decode()
    assert "A colorized photo" in page and "ECCV16" in page  # the model's name
    assert f'src="{reverse("colorize:shared-result", args=[job.share_token])}"' in page
    assert f'src="{reverse("colorize:shared-original", args=[job.share_token])}"' in page
    assert "data-slider" in page and "js/slider.js" in page
    assert "?download=1" in page and "format=jpeg" in page
    # Visitors see no owner controls, no file name and no address of the job itself.
    for absent in ("secret-family-name", "Delete", "Turn off", "Publish", "Create a share link",
                   str(job.id), "csrfmiddlewaretoken"):  # fmt: skip
        assert absent not in page, absent
    assert meta(page, "robots") == "noindex, nofollow"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    for url in image_urls(job):
        image = stranger.get(url)
        assert image.status_code == 200, url
        assert image["Content-Type"].startswith("image/"), url
        assert image["Cache-Control"] == "private, no-cache", url
        Image.open(io.BytesIO(body(image))).verify()
        assert "secret-family-name" not in image.get("Content-Disposition", ""), url


def test_the_job_addresses_stay_private_to_a_link_holder(client, job, ann):
    """The link opens its own addresses only: the job's page and images stay the owner's."""
    client.force_login(ann)
    share_path(client, job)
    stranger = Client()
    for name in ("colorize:job", "colorize:job-result", "colorize:job-original"):
        assert stranger.get(reverse(name, args=[job.id])).status_code == 404, name
    assert stranger.get(f"/api/v1/jobs/{job.id}").status_code in (401, 404)


def test_revoking_kills_the_link_at_once_and_sharing_again_makes_a_new_one(client, job, ann):
    client.force_login(ann)
    first = share_path(client, job)
    old = Job.objects.get(pk=job.pk)
    assert Client().get(first).status_code == 200

    response = client.post(reverse("colorize:job-unshare", args=[job.id]))
    assert response.url == reverse("colorize:job", args=[job.id])
    assert Job.objects.get(pk=job.pk).share_token is None
    assert_gone(first, old)
    page = text(client.get(response.url))
    assert "Share link turned off" in page and "Create a share link" in page

    second = share_path(client, job)
    assert second != first
    assert Client().get(second).status_code == 200
    assert_gone(first, old)  # the old link stays dead


def test_visitors_of_a_published_photo_get_no_share_controls(job):
    sharing.job_publish(job=job)
    page = text(Client().get(reverse("colorize:job", args=[job.id])))
    assert "A colorized photo" in page
    assert "Create a share link" not in page and "share-url" not in page


def test_sharing_twice_keeps_the_link(job):
    token = sharing.job_share(job=job).share_token
    assert len(token) >= 32
    assert sharing.job_share(job=job).share_token == token


def test_tokens_are_random(colorize_photos, ann):
    jobs = colorize_photos(owner=ann, count=3).jobs.all()
    tokens = {sharing.job_share(job=job).share_token for job in jobs}
    assert len(tokens) == 3


def test_a_stranger_cannot_share_or_revoke(client, make_user, job, ann):
    sharing.job_share(job=job)
    token = Job.objects.get(pk=job.pk).share_token
    bob = Client()
    bob.force_login(make_user("bob"))
    for actor in (bob, Client()):
        for name in ("colorize:job-share", "colorize:job-unshare"):
            assert actor.post(reverse(name, args=[job.id])).status_code == 404, name
    assert Job.objects.get(pk=job.pk).share_token == token
    # Nor does a link let its holder act: the owner's forms are POST-only, CSRF-checked.
    assert client.get(reverse("colorize:job-share", args=[job.id])).status_code == 405
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(ann)
    assert csrf_client.post(reverse("colorize:job-unshare", args=[job.id])).status_code == 403
    assert Job.objects.get(pk=job.pk).share_token == token


def test_unknown_and_odd_tokens_are_not_found():
    for token in ("nope", "x" * 65, "a" * 32, "%00", "' OR 1=1 --"):
        response = Client().get(f"/s/{token}/")
        assert response.status_code == 404, token
        assert Client().get(f"/s/{token}/original").status_code == 404, token


# --- When a link stops working -------------------------------------------------------------------


def test_a_hidden_photo_is_not_shown_through_its_link(client, job, ann):
    client.force_login(ann)
    path = share_path(client, job)
    Job.objects.filter(pk=job.pk).update(hidden_at=timezone.now(), hidden_reason="Reported")
    assert_gone(path, Job.objects.get(pk=job.pk))
    # Its owner is told, may revoke the link, and cannot make a new one.
    page = text(client.get(reverse("colorize:job", args=[job.id])))
    assert "leads nowhere while a moderator hides this photo" in page
    client.post(reverse("colorize:job-unshare", args=[job.id]))
    response = client.post(reverse("colorize:job-share", args=[job.id]))
    assert response.status_code == 400 and "moderator hid this photo" in text(response)
    assert Job.objects.get(pk=job.pk).share_token is None


def test_only_a_colorized_photo_can_be_shared(client, job, ann):
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    job.refresh_from_db()
    with pytest.raises(errors.SubmissionError, match="Only a colorized photo"):
        sharing.job_share(job=job)
    client.force_login(ann)
    response = client.post(reverse("colorize:job-share", args=[job.id]))
    assert response.status_code == 400 and "Only a colorized photo" in text(response)
    assert Job.objects.get(pk=job.pk).share_token is None


def test_a_deleted_photo_leaves_a_dead_link(job):
    shared = sharing.job_share(job=job)
    path = reverse("colorize:shared", args=[shared.share_token])
    assert Client().get(path).status_code == 200
    storage.job_delete(job=shared)
    assert_gone(path, shared)


# --- Anonymous owners ----------------------------------------------------------------------------


def test_an_anonymous_owner_shares_through_their_session_until_the_photo_expires(
    client, colorize_photos
):
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    page = text(client.get(reverse("colorize:job", args=[job.id])))
    assert "Create a share link" in page and "until it is deleted" in page
    path = share_path(client, job)
    shared = Job.objects.get(pk=job.pk)
    assert Client().get(path).status_code == 200
    assert shared.upload.expires_at is not None  # anonymous: the link lives as long as the photo

    # Past its time, the link is dead even before the purge deletes the photo...
    Upload.objects.filter(pk=job.upload_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_gone(path, shared)
    # ...and after it.
    assert expiry.purge_expired_uploads() == 1
    assert_gone(path, shared)


def test_an_anonymous_owner_revokes_and_others_cannot(client, colorize_photos):
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    path = share_path(client, job)
    other = Client()
    other.get("/")  # a session of its own
    assert other.post(reverse("colorize:job-unshare", args=[job.id])).status_code == 404
    assert Client().get(path).status_code == 200
    client.post(reverse("colorize:job-unshare", args=[job.id]))
    assert Client().get(path).status_code == 404


def test_signing_in_keeps_an_anonymous_link_alive_past_the_expiry(client, colorize_photos, ann):
    job = colorize_photos(session_key=client.session.session_key).jobs.get()
    path = share_path(client, job)
    # What signing in does with the work of the session it signs in from (colorize.signals).
    assert expiry.claim_anonymous_work(user=ann, session_key=client.session.session_key) == 1
    client.force_login(ann)
    job.refresh_from_db()
    assert job.owner == ann and job.upload.expires_at is None
    assert Client().get(path).status_code == 200
    assert "Turn off the link" in text(client.get(reverse("colorize:job", args=[job.id])))


# --- Link previews and privacy -------------------------------------------------------------------


def test_link_previews_use_a_share_scoped_image(client, job, ann):
    client.force_login(ann)
    path = share_path(client, job)
    page = Client().get(path).content.decode()
    token = Job.objects.get(pk=job.pk).share_token
    assert meta(page, "og:url") == f"http://testserver{path}"
    assert meta(page, "og:type") == "website"
    assert meta(page, "og:title") and "ECCV16" in meta(page, "og:description")
    assert meta(page, "twitter:card") == "summary_large_image"
    image_url = meta(page, "og:image")
    assert image_url == "http://testserver" + reverse("colorize:shared-preview", args=[token])
    response = Client().get(image_url.removeprefix("http://testserver"))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    preview = Image.open(io.BytesIO(body(response)))
    assert preview.format == "JPEG"
    assert preview.size == (192, 64)  # the 96×64 original beside its 96×64 result
    assert not preview.getexif() and SERIAL.encode() not in body(response)
    # The original on the left, the result on the right (each nearer its own than the other's:
    # JPEG blurs the random network's noisy colours).
    original = Image.open(job.upload.image.open("rb")).convert("RGB")
    result = Image.open(job.result.image.open("rb")).convert("RGB")
    pixels = preview.convert("RGB")
    left, right = pixels.crop((0, 0, 96, 64)), pixels.crop((96, 0, 192, 64))
    assert _difference(left, original) < 6 < _difference(left, result)
    assert _difference(right, result) < _difference(right, original)


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two RGB images' pixels (0-255)."""
    import numpy as np

    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


def test_previews_are_small_for_large_photos(colorize_photos, ann):
    job = colorize_photos(owner=ann, size=(1600, 900)).jobs.get()
    token = sharing.job_share(job=job).share_token
    response = Client().get(reverse("colorize:shared-preview", args=[token]))
    width, height = Image.open(io.BytesIO(body(response))).size
    assert width <= 1200 and height <= 630 and width == 2 * 600


def test_the_original_shown_through_a_link_has_no_location_or_camera(job):
    sent = job.upload.image.open("rb").read()
    assert SERIAL.encode() in sent and GPS_IFD in Image.open(io.BytesIO(sent)).getexif()
    token = sharing.job_share(job=job).share_token
    for query in ("", "?download=1", "?format=jpeg"):
        response = Client().get(reverse("colorize:shared-original", args=[token]) + query)
        assert response.status_code == 200, query
        data = body(response)
        assert data != sent and SERIAL.encode() not in data and b"CameraMaker" not in data
        exif = Image.open(io.BytesIO(data)).getexif()
        assert GPS_IFD not in exif and MAKE not in exif and not exif.get_ifd(EXIF_IFD), query
        assert "secret-family-name" not in response.get("Content-Disposition", "")


# --- In a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_link_made_in_one_browser_opens_in_a_fresh_one(
    browser_page, live_server, settings, media_root, tmp_path
):
    settings.COLORIA_SYNC_JOBS = True
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    photo = tmp_path / "grandpa.png"
    photo.write_bytes(encode(make_photo(240, 160)))

    # An anonymous visitor colorizes a photo and makes a link on its result page.
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(photo))
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")
    page.click("#share-button")
    page.wait_for_selector("#share-url")
    url = page.input_value("#share-url")
    assert re.fullmatch(re.escape(live_server.url) + r"/s/[A-Za-z0-9_-]{32}/", url), url
    page.click("#copy-share-url")
    wait_until(page, "document.querySelector('#copy-status').textContent.includes('copied')")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.screenshot(path=str(media_root.parent / "share-owner.png"), full_page=True)

    # Someone else, in a fresh browser (no cookies, no session), opens it.
    visitor_context = page.context.browser.new_context()
    visitor = visitor_context.new_page()
    visitor.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    visitor.on("pageerror", lambda error: problems.append(str(error)))
    visitor.goto(url)
    assert not visitor_context.cookies()
    wait_until(visitor, "document.querySelector('.ba-after').naturalWidth > 0")
    wait_until(visitor, "document.querySelector('.ba-before').naturalWidth > 0")
    assert visitor.locator("h1").inner_text() == "A colorized photo"
    assert "grandpa" not in visitor.content()
    handle = visitor.locator(".ba-handle")
    assert handle.is_visible() and handle.get_attribute("aria-valuenow") == "50"
    handle.focus()
    visitor.keyboard.press("Home")
    assert handle.get_attribute("aria-valuenow") == "0"  # the slider works
    with visitor.expect_download() as download_info:
        visitor.click("#download-png")
    assert Image.open(download_info.value.path()).size == (240, 160)
    visitor.screenshot(path=str(media_root.parent / "share-visitor.png"), full_page=True)

    # The owner turns the link off: the visitor's next visit finds nothing.
    page.click("#unshare-button")
    page.wait_for_selector("#share-button")
    response = visitor.goto(url)
    assert response.status == 404 and "turned it off" in visitor.content()
    visitor_context.close()
    assert not [p for p in problems if "favicon" not in p and "404" not in p], problems
