"""Phones and small screens in a real browser (Chromium through Playwright, strict CSP): the
folded menu, touch wording on the upload form, the compare page's slider first, tables that fit,
sentences that flow, the in-page confirmations that replaced confirm(), the admin job list at
1366 px."""

from __future__ import annotations

import json

import pytest

from colorize.models import Job
from tests.web import test_browser_site as site
from tests.web.helpers import wait_until
from tests.web.test_browser_site import shoot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The site tests' fixtures, shared: the page under a strict CSP that fails on console errors,
# and the screenshot folder.
page = site.page
artifacts = site.artifacts

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def touch_page(browser_page, live_server, media_root):
    """A phone: a touch screen (coarse pointer, no hover), 390×844, the same strict CSP and
    the same watch for console errors as the `page` fixture."""
    context = browser_page.context.browser.new_context(
        has_touch=True, is_mobile=True, viewport=PHONE, device_scale_factor=2
    )
    phone = context.new_page()
    problems = site.watch(phone, live_server)
    yield phone
    context.close()
    assert not [p for p in problems if "favicon" not in p], problems


def overflowing(page) -> list[str]:
    """Visible elements whose right edge lies beyond the viewport, and the page's scroll width
    if it is wider than the viewport."""
    return page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const found = [];
            for (const el of document.querySelectorAll("body *")) {
                const box = el.getBoundingClientRect();
                if (box.width && box.height && box.right > width + 0.5) {
                    found.push(`${el.tagName.toLowerCase()}.${el.className}: ${box.right}`);
                }
            }
            if (document.documentElement.scrollWidth > width) {
                found.push(`scrollWidth ${document.documentElement.scrollWidth} > ${width}`);
            }
            return found;
        }"""
    )


# --- 1. The menu button --------------------------------------------------------------------------


def test_phones_get_a_menu_button_and_a_one_row_header(page, live_server, make_user):
    sign_in(page, live_server, make_user("ann", is_staff=True))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/models/")
    header = page.locator(".site-header")
    button = page.locator("button.menu-button")
    nav = page.locator("#site-nav")
    assert header.bounding_box()["height"] <= 64
    assert button.is_visible() and button.inner_text().strip() == "Menu"
    assert button.get_attribute("aria-expanded") == "false"
    assert button.get_attribute("aria-controls") == "site-nav"
    assert not nav.is_visible()

    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    for name in ("Colorize", "Gallery", "Models", "My photos", "Account", "Admin", "Sign out"):
        entry = nav.get_by_text(name, exact=True)
        assert entry.is_visible(), name
        box = entry.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    # The keyboard lands on the first link; Escape folds the menu and returns to the button.
    assert page.evaluate("document.activeElement.textContent.trim()") == "Colorize"
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false"
    assert not nav.is_visible()
    assert page.evaluate("document.activeElement.className") == "menu-button"

    # A second click folds it too, and a tap outside.
    button.click()
    button.click()
    assert not nav.is_visible()
    button.click()
    page.click("h1")
    assert button.get_attribute("aria-expanded") == "false"

    # The links work from the open menu.
    button.click()
    nav.get_by_text("Gallery", exact=True).click()
    page.wait_for_url("**/gallery/")


def test_desktops_keep_the_links_in_view_and_no_menu_button(page, live_server):
    page.goto(live_server.url + "/")
    assert not page.locator("button.menu-button").is_visible()
    nav = page.locator("#site-nav")
    assert nav.is_visible()
    assert nav.get_by_text("Sign up", exact=True).is_visible()
    assert page.locator(".site-header").bounding_box()["height"] <= 80


def test_without_javascript_the_links_are_there_on_a_phone(browser_page, live_server):
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport=PHONE)
    phone = context.new_page()
    try:
        phone.goto(live_server.url + "/")
        assert not phone.locator("button.menu-button").is_visible()
        for name in ("Colorize", "Gallery", "Models", "About", "Sign in", "Sign up"):
            entry = phone.locator("#site-nav").get_by_text(name, exact=True)
            assert entry.is_visible(), name
            box = entry.bounding_box()
            assert box["x"] + box["width"] <= PHONE["width"], name
    finally:
        context.close()


# --- 8. In-page confirmations, no confirm() ------------------------------------------------------


def test_deleting_a_result_asks_in_the_page_not_in_a_popup(
    page, live_server, make_user, colorize_photos, artifacts
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann, name="wedding.png", size=(160, 120)).jobs.get()
    sign_in(page, live_server, ann)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    form = page.locator("form.danger-zone")
    delete = form.locator("button:not([data-confirm-yes])", has_text="Delete")

    delete.click()
    box = form.locator(".confirm-box")
    assert box.is_visible()
    assert "Delete this result and its files? This cannot be undone." in box.inner_text()
    assert box.get_attribute("role") == "group"
    question_id = box.locator(".confirm-question").get_attribute("id")
    assert box.get_attribute("aria-labelledby") == question_id
    # Focus moves into it, on Cancel (a second Enter cannot delete by accident).
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    assert not delete.is_visible()  # the question takes the button's place
    shoot(page, artifacts, "result-confirm")

    form.locator("[data-confirm-cancel]").click()
    assert box.count() == 0
    assert delete.is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Delete"
    assert Job.objects.filter(pk=job.pk).exists()

    # Escape cancels too.
    delete.click()
    page.keyboard.press("Escape")
    assert box.count() == 0
    assert Job.objects.filter(pk=job.pk).exists()

    delete.click()
    form.locator("[data-confirm-yes]").click()
    page.wait_for_url(lambda url: f"/jobs/{job.id}/" not in url)
    assert not Job.objects.filter(pk=job.pk).exists()
    assert dialogs == []


def test_revoking_a_token_and_deleting_the_account_ask_in_the_page(page, live_server, make_user):
    from accounts.models import ApiToken

    ann = make_user("ann")
    sign_in(page, live_server, ann)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(live_server.url + "/accounts/tokens/")
    page.fill("input[name=name]", "laptop")
    page.click("text=Create token")
    page.locator("button:not([data-confirm-yes])", has_text="Revoke").click()
    assert "Revoke “laptop”?" in page.inner_text(".confirm-box")
    page.locator("[data-confirm-yes]").click()
    page.wait_for_selector("text=revoked")
    assert not ApiToken.objects.get(name="laptop").is_active

    page.goto(live_server.url + "/accounts/delete/")
    page.locator("button:not([data-confirm-yes])", has_text="Delete my account").click()
    assert page.locator(".confirm-box").is_visible()
    assert page.locator("[data-confirm-yes]").inner_text() == "Delete my account for good"
    assert dialogs == []


# --- 5. Sentences with a link flow as text -------------------------------------------------------


@pytest.mark.parametrize("path", ["/models/", "/accounts/tokens/"])
def test_a_subtitle_with_a_link_flows_as_one_sentence(page, live_server, make_user, path):
    sign_in(page, live_server, make_user("ann"))
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + path)
        shares_a_line = page.evaluate(
            """() => {
                const sub = document.querySelector(".page-head .page-sub");
                const link = sub.querySelector("a");
                const rects = (node) => {
                    const range = document.createRange();
                    range.selectNodeContents(node);
                    return [...range.getClientRects()].filter((r) => r.width > 0);
                };
                const linkRects = [...link.getClientRects()];
                const before = rects(link.previousSibling).at(-1);
                const after = rects(link.nextSibling)[0];
                const same = (a, b) => a && b && Math.abs(a.top - b.top) < 3;
                return {
                    display: getComputedStyle(sub).display,
                    withBefore: same(before, linkRects[0]),
                    withAfter: same(after, linkRects.at(-1)),
                };
            }"""
        )
        assert shares_a_line["display"] == "block", (width, shares_a_line)
        assert shares_a_line["withBefore"] or shares_a_line["withAfter"], (width, shares_a_line)


# --- 4. Tables that fit a phone ------------------------------------------------------------------


def test_tables_and_pages_fit_a_phone(page, live_server, make_user, artifacts, settings, tmp_path):
    # Evaluation figures for one model, so that its page shows its figures table too.
    settings.COLORIA_DATA_DIR = tmp_path
    stats = {"mean": 11.234, "median": 11.0, "ci_low": 10.5, "ci_high": 12.01, "n": 40}
    (tmp_path / "evaluations").mkdir()
    (tmp_path / "evaluations" / "latest.json").write_text(
        json.dumps(
            {
                "format": 1,
                "models": {
                    "zhang-eccv16": {
                        "name": "Zhang ECCV16 (official)",
                        "evaluated_at": "2026-11-20T10:00:00Z",
                        "n_images": 40,
                        "device": "cpu",
                        "metrics": {"delta_e00": stats, "psnr": {"mean": 23.5}},
                        "vs_grey": {"delta_e00": {"mean": -0.75}},
                        "grey_baseline": {"delta_e00": {"mean": 11.98}},
                        "timing": {"seconds_per_image_mean": 0.4321, "load_seconds": 1.2},
                        "memory": {"peak_rss_mb": 812.0, "cuda_peak_mb": None},
                    }
                },
            }
        )
    )
    ann = make_user("ann")
    sign_in(page, live_server, ann)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/accounts/tokens/")
    for name in ("laptop", "a-rather-long-token-name-for-the-backup-server"):
        page.fill("input[name=name]", name)
        page.click("text=Create token")
        page.wait_for_selector(f"text=Token “{name}” created")
    page.locator("button:not([data-confirm-yes])", has_text="Revoke").first.click()
    page.locator("[data-confirm-yes]").click()
    page.wait_for_selector("text=revoked")
    found = overflowing(page)
    assert not found, found
    revoke = page.locator("button", has_text="Revoke")
    box = revoke.bounding_box()
    assert revoke.is_visible() and box["x"] + box["width"] <= PHONE["width"]
    # Each value still says what it is, with its column's heading beside it.
    labels = page.evaluate(
        """() => [...document.querySelectorAll("tbody tr:first-child td")]
            .map((td) => getComputedStyle(td, "::before").content)"""
    )
    assert labels[:4] == ['"Name"', '"Key starts"', '"Created"', '"Last used"'], labels
    shoot(page, artifacts, "tokens")
    page.set_viewport_size(PHONE)
    # The open question fits too.
    revoke.click()
    found = overflowing(page)
    assert not found, found

    page.goto(live_server.url + "/models/zhang/")
    assert page.locator("table.figures").count() == 1
    shoot(page, artifacts, "model-zhang-figures")
    page.set_viewport_size(PHONE)
    for path in (
        "/accounts/profile/",
        "/models/",
        "/models/zhang/",
        "/models/coloria-lite/",
        "/models/cnn/",
        "/models/bigcolor/",
        "/about/",
        "/how-it-works/",
    ):
        page.goto(live_server.url + path)
        found = overflowing(page)
        assert not found, (path, found)


# --- 3. The compare page on a phone --------------------------------------------------------------


def compare_all_models(page, live_server, tmp_path) -> None:
    """Send one photo to "All models" as a visitor (the page then has its expiry note too)."""
    page.goto(live_server.url + "/")
    page.select_option("#model", "all")
    page.set_input_files("#images", str(site.photo_file(tmp_path, "street.png", size=(240, 160))))
    page.click("#submit-button")
    page.wait_for_url("**/compare/")
    wait_until(page, "document.querySelector('#compare-right').naturalWidth > 0")


def test_the_compare_slider_comes_first_on_a_phone(
    page, live_server, tmp_path, settings, hint_model, artifacts
):
    settings.COLORIA_SYNC_JOBS = True
    page.set_viewport_size(PHONE)
    compare_all_models(page, live_server, tmp_path)
    slider = page.locator(".ba").bounding_box()
    assert slider["y"] < 300, slider
    assert slider["y"] + slider["height"] <= PHONE["height"]  # the whole picture on screen
    # The pickers and the note on keeping photos follow it.
    assert page.locator("#left-side").bounding_box()["y"] > slider["y"] + slider["height"]
    assert page.locator(".expiry-note").bounding_box()["y"] > slider["y"]
    found = overflowing(page)
    assert not found, found
    shoot(page, artifacts, "compare-first")

    # On a desktop the pickers stay above the slider.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.locator("#left-side").bounding_box()["y"] < page.locator(".ba").bounding_box()["y"]


# --- 2. Touch screens: their wording, the camera ------------------------------------------------


def test_a_touch_screen_chooses_or_takes_photos_into_one_list(
    touch_page, live_server, tmp_path, settings, artifacts
):
    page = touch_page
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")
    page.goto(live_server.url + "/")
    zone = page.locator("#dropzone")
    assert zone.locator(".dropzone-title").inner_text().strip() == "Choose photos or take one"
    assert not zone.get_by_text("Drop photos here").is_visible()
    assert not zone.locator(".dropzone-or").is_visible()
    # The main input keeps the gallery open to choose from: no `capture` on it.
    assert page.get_attribute("#images", "capture") is None
    assert page.get_attribute("#images", "multiple") is not None
    camera_button = page.locator("#camera-button")
    assert camera_button.is_visible() and camera_button.inner_text() == "Take a photo"
    assert page.get_attribute("#camera", "capture") == "environment"
    assert page.get_attribute("#camera", "accept") == "image/*"
    assert page.get_attribute("#camera", "name") is None  # sent through the main input only
    site.assert_accessible_basics(page)

    # A photo from the camera and one chosen from the phone: one list, both sent.
    with page.expect_file_chooser() as chooser:
        camera_button.click()
    assert chooser.value.element.get_attribute("id") == "camera"
    chooser.value.set_files(str(site.photo_file(tmp_path, "camera.jpg", seed=1)))
    page.set_input_files("#images", str(site.photo_file(tmp_path, "chosen.png", seed=2)))
    assert page.locator("#thumbs .thumb").count() == 2
    assert page.evaluate("document.getElementById('images').files.length") == 2
    assert page.evaluate("document.getElementById('camera').files.length") == 0
    found = overflowing(page)
    assert not found, found
    page.screenshot(path=str(artifacts / "home-touch-phone.png"))
    page.click("#submit-button")
    page.wait_for_url("**/batches/*/")
    names = sorted(job.upload.original_name for job in Job.objects.select_related("upload"))
    assert names == ["camera.jpg", "chosen.png"]


def test_a_mouse_keeps_the_drop_wording_and_no_camera_button(page, live_server):
    page.goto(live_server.url + "/")
    zone = page.locator("#dropzone")
    assert zone.get_by_text("Drop photos here").is_visible()
    assert zone.locator(".dropzone-or").is_visible()
    assert not zone.get_by_text("Choose photos or take one").is_visible()
    assert not page.locator("#camera-button").is_visible()


def test_a_touch_screen_is_not_told_about_arrow_keys(
    touch_page, live_server, make_user, colorize_photos
):
    ann = make_user("ann")
    job = colorize_photos(owner=ann, name="dog.png", size=(160, 120)).jobs.get()
    sign_in(touch_page, live_server, ann)
    touch_page.goto(f"{live_server.url}/jobs/{job.id}/")
    caption = touch_page.locator(".ba-figure figcaption .muted")
    assert caption.inner_text().strip() == "Drag the divider."
    assert "arrow keys" not in touch_page.locator("main").inner_text()


def test_a_mouse_is_told_about_arrow_keys(page, live_server, make_user, colorize_photos):
    ann = make_user("ann")
    job = colorize_photos(owner=ann, name="dog.png", size=(160, 120)).jobs.get()
    sign_in(page, live_server, ann)
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    caption = page.locator(".ba-figure figcaption .muted")
    assert caption.inner_text().strip() == "Drag the divider, or focus it and use the arrow keys."


# --- 7. The admin's job list fits a laptop ------------------------------------------------------


def test_the_admin_job_list_fits_1366_px(
    page, live_server, make_user, colorize_photos, hint_model, artifacts
):
    from colorize.services import moderation, sharing

    moderator = make_user("moderator-with-a-long-name", is_staff=True)
    ann = make_user("annabelle.featherstonehaugh-longname")
    batch = colorize_photos(owner=ann, model="all", name="a-photo-with-a-long-file-name.png")
    first, second = batch.jobs.order_by("model_key")
    sharing.job_publish(job=first)
    moderation.job_hide(
        job=first,
        moderator=moderator,
        reason="Shows a private address in the background that its owner may not have noticed",
    )
    Job.objects.filter(pk=second.pk).update(
        status=Job.Status.FAILED,
        error="The model ran out of memory on a photo this large: try a smaller copy of it, "
        "or another model that needs less memory.",
    )
    colorize_photos(owner=None, session_key="x" * 32, name="visitor.png")

    sign_in(page, live_server, moderator)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(live_server.url + "/admin/colorize/job/")
    assert page.locator("#result_list tbody tr").count() == 3
    widths = page.evaluate(
        """() => {
            const results = document.querySelector("#changelist .results");
            return {
                page: document.documentElement.scrollWidth,
                results: results.scrollWidth,
                resultsBox: results.clientWidth,
                columns: [...document.querySelectorAll("#result_list thead th")].map(
                    (th) => `${th.className}: ${Math.round(th.getBoundingClientRect().width)}`
                ),
            };
        }"""
    )
    page.screenshot(path=str(artifacts / "admin-jobs-1366.png"), full_page=True)
    assert widths["page"] <= 1366, widths
    # Every column in view: the list does not hide its last columns behind a sideways scroll.
    assert widths["results"] <= widths["resultsBox"], widths
    # Still there, in short: the id, the owner, the error, the reason, the date.
    table = page.inner_text("#result_list")
    assert str(second.id)[:8] in table
    assert "annabelle.featherstonehaugh-longname" in table
    assert "ran out of memory" in table and "private address" in table
