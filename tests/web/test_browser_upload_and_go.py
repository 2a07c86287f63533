"""Upload-and-go in a real browser (#21): a fresh install's preselected model straight to a
result, a sample photo, the colour-photo warning, a batch with one bad file, the pixel check
before upload, and a one-click re-run at another strength."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image

import ml
from colorize.models import Job
from ml import config
from tests.conftest import SHIPPED_WEIGHTS_DIR, encode, make_photo
from tests.web import test_browser_site as browser_site
from tests.web.helpers import wait_until

# The browser fixtures of the site's browser tests (strict CSP, console errors fail the test).
page, artifacts = browser_site.page, browser_site.artifacts
drop, shoot, pytestmark = browser_site.drop, browser_site.shoot, browser_site.pytestmark


def hue_wheel(width: int = 160, height: int = 110) -> Image.Image:
    """A colour photo's stand-in: every hue, strongly saturated."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for x in range(width):
        r, g, b = colorsys.hsv_to_rgb(x / width, 0.7, 0.85)
        pixels[:, x] = [round(r * 255), round(g * 255), round(b * 255)]
    return Image.fromarray(pixels)


def sepia(width: int = 160, height: int = 110) -> Image.Image:
    """A toned print: tinted, but of one hue (not a colour photo)."""
    grey = np.asarray(make_photo(width, height), float) / 255
    tone = np.array([1.0, 0.82, 0.6])
    return Image.fromarray((grey[..., None] * tone * 255).astype(np.uint8))


def test_a_fresh_install_goes_from_photo_to_result_without_the_picker(
    page, live_server, settings, monkeypatch, tmp_path, artifacts
):
    monkeypatch.setattr(config, "SHIPPED_WEIGHTS_DIR", SHIPPED_WEIGHTS_DIR)
    ml.configure(weights_dir=tmp_path / "no-official-weights")
    settings.COLORIA_DEFAULT_MODEL = ""
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    wait_until(page, "document.querySelector('#home-example .ba-after').naturalWidth > 0")
    assert page.locator("#home-example .ba-handle").is_visible()
    chosen = page.input_value("#model")
    assert chosen == "coloria-lite"
    note = page.locator(f'.experimental-note[data-model="{chosen}"]')
    assert note.is_visible() and "Experimental colours" in note.inner_text()
    page.select_option("#model", "all")
    assert not note.is_visible()
    page.select_option("#model", chosen)
    assert note.is_visible()
    shoot(page, artifacts, "home-fresh-install")

    drop(page, [("street.png", encode(make_photo(200, 140, seed=4)), "image/png")])
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")
    job = Job.objects.get()
    assert job.model_key == "coloria-lite" and job.status == Job.Status.SUCCEEDED
    assert "Experimental colours" in page.inner_text(".experimental-note")

    # A model page's "Try it on a photo" opens the form with that model chosen.
    page.goto(live_server.url + "/models/cnn/")
    shoot(page, artifacts, "model-page")
    page.click("a.try-model")
    page.wait_for_url("**/?model=cnn-coloria")
    assert page.input_value("#model") == "cnn-coloria"
    assert page.locator('.experimental-note[data-model="cnn-coloria"]').is_visible()


def test_a_sample_photo_in_one_click(page, live_server, settings):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    page.click("button.sample-button[value=cat]")
    page.wait_for_url("**/jobs/*/")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")
    job = Job.objects.get()
    assert job.upload.original_name == "cat.jpg" and job.status == Job.Status.SUCCEEDED


def test_a_colour_photo_is_flagged_before_it_is_sent(page, live_server, settings, artifacts):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    warning = page.locator("#colour-warning")
    drop(page, [("grey.png", encode(make_photo(160, 110)), "image/png")])
    drop(page, [("toned.png", encode(sepia()), "image/png")])
    page.wait_for_timeout(300)
    assert not warning.is_visible()  # grey and sepia prints are what Coloria is for
    drop(page, [("holiday.png", encode(hue_wheel()), "image/png")])
    wait_until(page, "!document.getElementById('colour-warning').hidden")
    assert "holiday.png is already in colour: Coloria will replace its colours." in (
        warning.inner_text()
    )
    assert page.locator("#thumbs .thumb", has_text="holiday.png").locator(".thumb-tag").count()
    shoot(page, artifacts, "home-colour-warning")
    page.click("#remove-colour-photos")
    assert not warning.is_visible()
    assert page.locator("#thumbs .thumb").count() == 2

    # Going on with a colour photo is the visitor's choice.
    page.goto(live_server.url + "/")
    drop(page, [("holiday.png", encode(hue_wheel()), "image/png")])
    wait_until(page, "!document.getElementById('colour-warning').hidden")
    assert "This photo is already in colour" in warning.inner_text()
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    assert Job.objects.get().status == Job.Status.SUCCEEDED


def test_one_bad_file_among_good_ones_is_named_and_the_rest_go_on(page, live_server, settings):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    drop(page, [
        ("good.png", encode(make_photo(120, 90, seed=1)), "image/png"),
        ("broken.png", b"\x89PNG\r\n\x1a\n not really", "image/png"),
    ])  # fmt: skip
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    message = page.locator(".messages").inner_text()
    assert "Not sent: broken.png could not be read: it is not a valid image." in message
    assert Job.objects.get().upload.original_name == "good.png"


def test_a_photo_over_the_pixel_limit_is_refused_before_upload(page, live_server, settings):
    settings.COLORIA_MAX_PIXELS = 10_000
    page.goto(live_server.url + "/")
    drop(page, [("big.png", encode(make_photo(160, 110)), "image/png")])
    wait_until(page, "!document.getElementById('upload-errors').hidden")
    assert "big.png is 160×110 pixels; the limit is 0.01 megapixels." in (
        page.inner_text("#upload-errors")
    )
    assert page.locator("#thumbs .thumb").count() == 0


def test_run_again_at_another_strength_from_the_result_page(page, live_server, settings):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    drop(page, [("p.png", encode(make_photo(120, 90)), "image/png")])
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    first = Job.objects.get()
    page.click("#strength-rerun button:has-text('towards “vivid, may be blotchy”')")
    page.wait_for_url(lambda url: str(first.id) not in url)
    rerun = Job.objects.exclude(pk=first.pk).get()
    assert rerun.params["temperature"] == 0.7 and rerun.status == Job.Status.SUCCEEDED
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")


def test_a_reference_photo_is_dropped_on_its_own_zone(page, live_server, settings):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    page.select_option("#model", "reference")
    drop(page, [("beach.png", encode(hue_wheel()), "image/png")], selector="#reference-drop")
    # Shown at once, but an image has no size, so is not yet visible, until its file is decoded.
    page.locator("#reference-thumb").wait_for(state="visible")
    assert page.evaluate("document.getElementById('reference').files[0].name") == "beach.png"
    assert page.locator("#thumbs .thumb").count() == 0  # not one more photo to colour
    drop(page, [("old.png", encode(make_photo(120, 90)), "image/png")])
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert job.model_key == "reference" and job.upload.reference
    assert job.status == Job.Status.SUCCEEDED, job.error
