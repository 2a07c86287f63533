"""The colour-point picker in a real browser: click the result, pick a colour, run again."""

from __future__ import annotations

import pytest

from colorize.models import Job
from tests.conftest import encode, make_photo
from tests.web.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clicking_the_result_adds_a_hint_and_reruns(
    live_server, browser_page, settings, media_root, hint_model, tmp_path
):
    settings.COLORIA_SYNC_JOBS = True  # the job runs inside the request: no worker needed here
    path = tmp_path / "portrait.png"
    path.write_bytes(encode(make_photo(200, 100)))
    page = browser_page
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(path))
    page.select_option("#model", hint_model)
    page.click("#submit-button")
    page.wait_for_selector("#result")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")

    box = page.locator("#result").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    assert page.locator("#hint-list li").count() == 1
    page.locator("#hint-list input[type=color]").fill("#00ff00")
    page.screenshot(path=str(media_root.parent / "hints.png"), full_page=True)
    page.click("#hint-form button[type=submit]")
    page.wait_for_selector("#result")

    _first, second = Job.objects.order_by("queued_at")
    assert second.status == Job.Status.SUCCEEDED
    ((x, y, rgb),) = second.params["hints"]
    assert abs(x - 150) <= 2 and abs(y - 25) <= 2 and rgb == [0, 255, 0]
