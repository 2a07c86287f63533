"""The site in a real browser (Debian's Chromium through Playwright), under a strict
Content-Security-Policy: uploading by drag-and-drop and by the button, live progress, the
before/after slider with mouse and keyboard, downloads, "all models", errors, screenshots."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from colorize.models import Job
from colorize.services import running, sharing
from tests.conftest import encode, make_photo
from tests.web.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("COLORIA_TEST_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page, live_server) -> list[str]:
    """Serve every HTML page to `page` under a strict CSP and collect every console error or
    uncaught exception (the returned list; a test fails on any)."""
    problems: list[str] = []

    def with_csp(route):
        # Only GET pages: Chromium does not hand file uploads to an interceptor that re-sends
        # them, so a POST goes straight through (its response is a redirect or an error page).
        if route.request.resource_type != "document" or route.request.method != "GET":
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": CSP}
        )

    page.route(f"{live_server.url}/**", with_csp)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


@pytest.fixture
def page(browser_page, live_server, media_root):
    """The browser page, with every HTML page served under a strict CSP and every console error
    or uncaught exception collected (the test fails on any)."""
    problems = watch(browser_page, live_server)
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    browser_page.problems = problems
    yield browser_page
    assert not [p for p in problems if "favicon" not in p], problems


def shoot(page, artifacts: Path, name: str) -> None:
    """Screenshots of the page at phone and desktop widths."""
    original = page.viewport_size
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(artifacts / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def photo_file(tmp_path: Path, name: str, seed: int = 0, size=(160, 110)) -> Path:
    path = tmp_path / name
    path.write_bytes(encode(make_photo(*size, seed=seed)))
    return path


def drop(page, files: list[tuple[str, bytes, str]], selector: str = "#dropzone") -> None:
    """Drop files on an element the way a browser does: dragenter, dragover, drop."""
    payload = [
        {"name": name, "data": base64.b64encode(data).decode(), "type": mime}
        for name, data, mime in files
    ]
    page.evaluate(
        """([selector, files]) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: file.type }));
            }
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {
                    bubbles: true, cancelable: true, dataTransfer: transfer,
                }));
            }
        }""",
        [selector, payload],
    )


def choose_with_button(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click("#choose-button")
    chooser.value.set_files(str(path))


def sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])


def assert_accessible_basics(page) -> None:
    """Every image has alt text, every form control a label, and there is one <h1>."""
    problems = page.evaluate(
        """() => {
            const found = [];
            document.querySelectorAll("img").forEach((img) => {
                if (!img.hasAttribute("alt")) found.push(`img without alt: ${img.src}`);
            });
            const controls = "input:not([type=hidden]), select, textarea";
            document.querySelectorAll(controls).forEach((el) => {
                const labelled = (el.labels && el.labels.length) || el.getAttribute("aria-label")
                    || el.getAttribute("aria-labelledby");
                if (!labelled) found.push(`control without label: ${el.name || el.id}`);
            });
            if (document.querySelectorAll("h1").length !== 1) found.push("not exactly one h1");
            return found;
        }"""
    )
    assert not problems, problems


# --- Upload, progress ----------------------------------------------------------------------------


def test_drop_and_button_upload_with_live_progress(page, live_server, tmp_path, artifacts):
    # Jobs are only queued (no worker, not synchronous): the test runs them itself, while the
    # batch page watches their progress without reloading.
    page.goto(live_server.url + "/")
    assert_accessible_basics(page)
    drop(page, [("dropped.png", encode(make_photo(160, 110, seed=1)), "image/png")])
    choose_with_button(page, photo_file(tmp_path, "chosen.png", seed=2))
    drop(page, [("extra.png", encode(make_photo(90, 90, seed=3)), "image/png")])
    thumbs = page.locator("#thumbs .thumb")
    assert thumbs.count() == 3
    assert page.input_value("#model") == "zhang-eccv16"
    page.click("button[aria-label='Remove extra.png']")
    assert thumbs.count() == 2
    assert page.evaluate("document.getElementById('images').files.length") == 2
    assert page.locator("#thumbs").inner_text().count(".png") == 2
    assert page.evaluate("document.activeElement.className") == "thumb-remove"
    shoot(page, artifacts, "home-with-photos")

    page.click("#submit-button")
    page.wait_for_url("**/batches/*/")
    rows = page.locator(".job-row")
    assert rows.count() == 2
    assert page.locator(".job-row[data-status=queued]").count() == 2
    assert "dropped.png" in page.inner_text("main") and "chosen.png" in page.inner_text("main")
    shoot(page, artifacts, "batch-in-progress")
    page.evaluate("window.__sameDocument = true")

    for job in Job.objects.order_by("upload__original_name"):
        running.job_run(job_id=job.id)
        page.wait_for_selector(f'.job-row[data-job="{job.id}"][data-status=succeeded]')
    wait_until(page, "document.querySelector('[data-role=progress]').value === 2")
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    assert "All done: 2 colorized." in page.inner_text("[data-role=progress-text]")
    assert page.locator("[data-role=zip]").is_visible()
    wait_until(
        page,
        "[...document.querySelectorAll('[data-role=result-thumb]')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
    )
    assert page.locator(".job-row .badge").first.inner_text().strip() == "Done"
    shoot(page, artifacts, "batch-done")


def test_a_failed_job_shows_its_error_live_and_can_be_retried(page, live_server, tmp_path):
    page.goto(live_server.url + "/")
    page.set_input_files(
        "#images", [str(photo_file(tmp_path, f"p{i}.png", seed=i)) for i in (1, 2)]
    )
    page.click("#submit-button")
    page.wait_for_url("**/batches/*/")
    first, second = Job.objects.order_by("upload__original_name")
    running.job_run(job_id=first.id)
    Job.objects.filter(pk=second.pk).update(status=Job.Status.FAILED, error="Out of memory.")
    row = page.locator(f'.job-row[data-job="{second.id}"]')
    row.locator("[data-role=error]").wait_for(state="visible")
    assert row.locator("[data-role=error]").inner_text() == "Out of memory."
    assert row.locator(".badge").inner_text().strip() == "Failed"
    retry = row.locator("[data-role=retry] button")
    assert retry.is_visible()
    retry.click()
    page.wait_for_url(re.compile(r".*/batches/[^/]+/$"))
    second.refresh_from_db()
    assert second.status == Job.Status.QUEUED
    running.job_run(job_id=second.id)
    page.wait_for_selector(f'.job-row[data-job="{second.id}"][data-status=succeeded]')


def test_client_side_checks_show_red_errors(page, live_server, tmp_path, settings, artifacts):
    page.goto(live_server.url + "/")
    drop(page, [("notes.txt", b"these are words, not pixels", "text/plain")])
    errors = page.locator("#upload-errors")
    assert errors.is_visible()
    assert "notes.txt is not a supported image" in errors.inner_text()
    assert errors.evaluate("(el) => getComputedStyle(el).color") == "rgb(179, 38, 30)"
    assert page.locator("#thumbs .thumb").count() == 0
    shoot(page, artifacts, "home-client-error")

    # Too many photos, and "All models" with more than one.
    drop(page, [(f"p{i}.png", encode(make_photo(seed=i)), "image/png") for i in range(6)])
    assert page.locator("#thumbs .thumb").count() == 5
    assert "at most 5 photos" in errors.inner_text()
    page.select_option("#model", "all")
    assert "“All models” compares the models on one photo" in errors.inner_text()
    page.click("#submit-button")
    assert page.url == live_server.url + "/"  # not sent

    # Submitting nothing.
    page.goto(live_server.url + "/")
    page.click("#submit-button")
    assert "Choose at least one photo." in errors.inner_text()

    # A photo but no model (as on an install with no default model): asked for, not sent.
    drop(page, [("p.png", encode(make_photo()), "image/png")])
    page.evaluate("document.getElementById('model').value = ''")
    page.click("#submit-button")
    assert "Choose a model to colorize with." in errors.inner_text()
    assert page.url == live_server.url + "/"
    assert page.locator("#thumbs .thumb").count() == 1  # the chosen photo is kept


def test_server_repeats_the_checks_with_a_red_message(page, live_server, artifacts):
    page.goto(live_server.url + "/")
    # Named and typed like a PNG, so the browser lets it through; the server reads it.
    drop(page, [("fake.png", b"\x89PNG\r\n\x1a\n not really", "image/png")])
    page.click("#submit-button")
    alert = page.locator("#upload-errors")
    wait_until(page, "!document.getElementById('upload-errors').hidden")
    assert "fake.png could not be read" in alert.inner_text()
    assert alert.evaluate("(el) => getComputedStyle(el).color") == "rgb(179, 38, 30)"
    assert alert.get_attribute("role") == "alert"
    # Refused without leaving the page: the photo and the model chosen are still there.
    assert page.url == live_server.url + "/"
    assert page.locator("#thumbs .thumb").count() == 1
    assert page.evaluate("document.getElementById('images').files.length") == 1
    assert page.locator("#submit-button").is_enabled()
    shoot(page, artifacts, "home-server-error")
    # The one console error expected here: the browser logs the page's 400 status.
    assert page.problems == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    page.problems.clear()


# --- Result: slider, downloads -------------------------------------------------------------------


def reveal(page) -> str:
    return page.locator(".ba-before").evaluate("(el) => getComputedStyle(el).clipPath")


def test_result_slider_mouse_keyboard_and_downloads(
    page, live_server, tmp_path, settings, artifacts
):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(photo_file(tmp_path, "grandma.png", size=(300, 200))))
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")
    assert page.get_attribute("[data-status]", "data-status") == "succeeded"
    assert page.locator("text=Colorized by Coloria").is_visible()
    assert_accessible_basics(page)
    shoot(page, artifacts, "result")

    handle = page.locator(".ba-handle")
    slider = page.locator(".ba").bounding_box()
    start = reveal(page)
    assert handle.get_attribute("aria-valuenow") == "50"

    # Mouse: drag the divider to a fifth of the width.
    knob = page.locator(".ba-knob").bounding_box()
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    page.mouse.move(slider["x"] + slider["width"] * 0.2, slider["y"] + 10, steps=5)
    page.mouse.up()
    assert abs(int(handle.get_attribute("aria-valuenow")) - 20) <= 2
    dragged = reveal(page)
    assert dragged != start
    # A click anywhere on the picture moves it too.
    page.mouse.click(slider["x"] + slider["width"] * 0.8, slider["y"] + slider["height"] / 2)
    assert abs(int(handle.get_attribute("aria-valuenow")) - 80) <= 2

    # Keyboard: the divider is a focusable ARIA slider.
    handle.focus()
    page.keyboard.press("Home")
    assert handle.get_attribute("aria-valuenow") == "0"
    assert "inset(0px 100%" in reveal(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert handle.get_attribute("aria-valuenow") == "4"
    page.keyboard.press("End")
    assert handle.get_attribute("aria-valuenow") == "100"
    assert reveal(page) != dragged
    assert handle.get_attribute("aria-valuetext") == "100% Original, 0% Colorized"

    # Downloads: full resolution, PNG and JPEG.
    for link, extension, fmt in (
        ("#download-png", ".png", "PNG"),
        ("#download-jpeg", ".jpg", "JPEG"),
    ):
        with page.expect_download() as download_info:
            page.click(link)
        download = download_info.value
        assert download.suggested_filename == f"grandma-colorized-zhang-eccv16{extension}"
        image = Image.open(io.BytesIO(Path(download.path()).read_bytes()))
        assert image.format == fmt and image.size == (300, 200)


# --- All models ---------------------------------------------------------------------------------


def test_all_models_grid_and_comparison(
    page, live_server, tmp_path, settings, hint_model, artifacts
):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    page.select_option("#model", "all")
    assert "Runs every installed model (2)" in page.inner_text("#model-hint")
    choose_with_button(page, photo_file(tmp_path, "street.png", size=(240, 160)))
    page.click("#submit-button")
    page.wait_for_url("**/compare/")
    tiles = page.locator("#compare-grid .tile")
    assert tiles.count() == 3  # the original and both models
    grid = page.inner_text("#compare-grid")
    assert "Original" in grid and "Zhang ECCV16 (official)" in grid and "Zhang SIGGRAPH17" in grid
    wait_until(
        page,
        "[...document.querySelectorAll('#compare-grid img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
    )
    assert_accessible_basics(page)
    shoot(page, artifacts, "compare")

    eccv = Job.objects.get(model_key="zhang-eccv16")
    sig = Job.objects.get(model_key=hint_model)
    left = page.locator("#compare-left")
    assert left.get_attribute("src").endswith("/original")
    # One model against another, chosen in the pickers: no reload.
    page.evaluate("window.__sameDocument = true")
    page.select_option("#left-side", str(eccv.id))
    page.select_option("#right-side", str(sig.id))
    assert left.get_attribute("src") == f"/jobs/{eccv.id}/result.png"
    assert page.get_attribute("#compare-right", "src") == f"/jobs/{sig.id}/result.png"
    assert page.inner_text("[data-role=left-label]") == "Zhang ECCV16 (official)"
    assert f"left={eccv.id}" in page.url
    # A tile's link puts it against the original.
    page.click(f'a[data-compare-left=original][data-compare-right="{sig.id}"]')
    assert left.get_attribute("src").endswith("/original")
    assert page.evaluate("window.__sameDocument") is True
    page.keyboard.press("PageDown")
    assert page.get_attribute(".ba-handle", "aria-valuenow") == "40"


def test_bigcolor_class_search_and_candidates_side_by_side(
    page, live_server, tmp_path, settings, bigcolor_model, artifacts
):
    settings.COLORIA_SYNC_JOBS = True
    page.goto(live_server.url + "/")
    page.select_option("#model", bigcolor_model)
    settings_box = page.locator(f'fieldset[data-model="{bigcolor_model}"]')
    assert settings_box.is_visible()
    # The class field searches the 1000 ImageNet classes (a datalist the browser filters).
    class_field = page.locator(f"#{bigcolor_model}-imagenet_class")
    assert class_field.get_attribute("list") == "imagenet-classes"
    assert page.locator("#imagenet-classes option").count() == 1001  # and "auto"
    class_field.fill("979: valley")
    page.fill(f"#{bigcolor_model}-candidates", "2")
    choose_with_button(page, photo_file(tmp_path, "hills.png", size=(200, 130)))
    page.click("#submit-button")
    page.wait_for_url("**/compare/")
    grid = page.inner_text("#compare-grid")
    assert "candidate 1 of 2" in grid and "candidate 2 of 2" in grid
    wait_until(
        page,
        "[...document.querySelectorAll('#compare-grid img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
    )
    assert_accessible_basics(page)
    shoot(page, artifacts, "bigcolor-candidates")
    seeds = sorted(job.result.details["seed"] for job in Job.objects.all())
    assert seeds == [0, 1]  # a chosen class: successive seeds
    assert not page.problems, page.problems


# --- The other pages, signed in and not ---------------------------------------------------------


def test_every_menu_entry_is_in_view_on_a_phone(page, live_server, make_user, artifacts):
    page.set_viewport_size({"width": 375, "height": 740})

    def menu_entries_in_view() -> list[str]:
        # The links are folded behind the Menu button on phones.
        page.click("button.menu-button")
        entries = page.locator("header nav a, header nav button")
        assert entries.count() >= 7
        for index in range(entries.count()):
            box = entries.nth(index).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, entries.nth(
                index
            ).text_content()
        return [entries.nth(i).text_content().strip() for i in range(entries.count())]

    page.goto(live_server.url + "/")
    assert {"Sign in", "Sign up"} <= set(menu_entries_in_view())
    sign_in(page, live_server, make_user("ann", is_staff=True))
    page.goto(live_server.url + "/")
    assert {"My photos", "Account", "Admin", "Sign out"} <= set(menu_entries_in_view())
    shoot(page, artifacts, "menu-phone")


def test_main_pages_look_right_at_phone_and_desktop_widths(
    page, live_server, settings, make_user, colorize_photos, artifacts, tmp_path
):
    ann = make_user("ann")
    for index in range(3):
        batch = colorize_photos(owner=ann, name=f"family-{index}.png", size=(160, 120))
        if index < 2:
            sharing.job_publish(job=batch.jobs.get())
    settings.COLORIA_DATA_DIR = tmp_path  # no evaluation figures: the pages say so

    for name, path in [
        ("home", "/"),
        ("gallery", "/gallery/"),
        ("models", "/models/"),
        ("model-zhang", "/models/zhang/"),
        ("how-it-works", "/how-it-works/"),
        ("about", "/about/"),
    ]:
        page.goto(live_server.url + path)
        assert_accessible_basics(page)
        shoot(page, artifacts, name)
    page.goto(live_server.url + "/gallery/")
    assert page.locator(".gallery-item").count() == 2

    sign_in(page, live_server, ann)
    page.goto(live_server.url + "/history/")
    assert page.locator(".history-grid .tile").count() == 3
    assert_accessible_basics(page)
    shoot(page, artifacts, "history")
    # Deleting asks first, in the page (no pop-up); cancelling keeps the photo.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    first = page.locator(".history-grid .tile").first
    first.locator("button", has_text="Delete").click()
    question = first.locator(".confirm-box")
    assert "Delete this photo and its files?" in question.inner_text()
    first.locator("[data-confirm-cancel]").click()
    assert question.count() == 0
    assert page.locator(".history-grid .tile").count() == 3
    first.locator("button", has_text="Delete").click()
    shoot(page, artifacts, "history-confirm")
    first.locator("[data-confirm-yes]").click()
    page.wait_for_selector("text=Deleted, with its files.")
    assert dialogs == []
    assert page.locator(".history-grid .tile").count() == 2

    # Keyboard users reach the main content first through the skip link.
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
