"""The history, the home page's recent photos and the upload list in a real browser (Debian's
Chromium): nothing wider than a phone, sizes in KB below 1 MB."""

from __future__ import annotations

import pytest

from colorize.models import Job
from tests.conftest import encode, make_photo
from tests.web import test_browser_site as site
from tests.web.test_browser_site import artifacts, page  # noqa: F401 (the fixtures, reused)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG_NAME = "grandparents-wedding-day-in-front-of-the-old-town-hall-summer-1923-scan-final.png"


def assert_fits_a_phone(browser) -> None:
    overflow = browser.evaluate(
        """() => ({
            width: document.documentElement.scrollWidth,
            wide: [...document.querySelectorAll("main *")]
                .filter((node) => node.getBoundingClientRect().right > 390.5)
                .map((node) => node.tagName + "." + node.className).slice(0, 5),
        })"""
    )
    assert overflow["width"] <= 390, overflow


def test_history_fits_a_phone(page, live_server, colorize_photos, make_user, artifacts):  # noqa: F811
    ann = make_user("ann")
    colorize_photos(owner=ann, count=3, name="trip.png", size=(160, 90))
    colorize_photos(owner=ann, name=LONG_NAME, size=(90, 160))
    failed = colorize_photos(owner=ann, name="broken.png").jobs.get()
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.FAILED, error="Out of memory.")
    site.sign_in(page, live_server, ann)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/history/")
    assert page.locator(".history-group").count() == 3
    assert page.locator(".history-grid .tile").count() == 5
    assert page.locator(".tile a[download]").count() == 4  # every result but the failed one
    site.assert_accessible_basics(page)
    assert_fits_a_phone(page)
    site.shoot(page, artifacts, "history-grouped")
    page.goto(live_server.url + "/history/?status=done&model=zhang-eccv16")
    assert page.locator(".history-grid .tile").count() == 4
    assert_fits_a_phone(page)
    # The home page's recent photos, signed in: the latest four, within the phone's width too.
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/")
    assert page.locator("#recent-photos .tile").count() == 4
    assert_fits_a_phone(page)
    site.shoot(page, artifacts, "home-recent-photos")


def padded_png(size: int, seed: int) -> bytes:
    """A real PNG (browsers preview it) padded after its end to exactly `size` bytes."""
    data = encode(make_photo(64, 48, seed=seed))
    return data + b"\0" * (size - len(data))


def test_chosen_photos_show_sizes_people_read(page, live_server):  # noqa: F811
    page.goto(live_server.url + "/")
    page.set_input_files(
        "#images",
        [
            {"name": "small.png", "mimeType": "image/png", "buffer": padded_png(348_160, 1)},
            {"name": "large.png", "mimeType": "image/png", "buffer": padded_png(2_516_582, 2)},
        ],
    )
    sizes = page.locator("#thumbs .thumb-size").all_inner_texts()
    assert [size.strip() for size in sizes] == ["340 KB", "2.4 MB"]
