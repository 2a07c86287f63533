"""Repainting a result with colour strokes on the site: in a real browser, and refusals."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from colorize.models import Job
from tests.conftest import encode, make_photo
from tests.web.helpers import wait_until


def _submit(client, tmp_path=None) -> Job:
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("p.png", encode(make_photo(120, 80)))
    client.post(reverse("colorize:home"), {"images": [photo], "model": "zhang-eccv16"})
    return Job.objects.get()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("strokes", "reason"),
    [
        ("", "needs colour strokes"),
        ('[[5000, 5, "#ff0000"]]', "lies outside the photo (120×80 pixels)"),
        ('[{"points": [[1, 2]], "color": "#ff0000", "width": -3}]', "width is 1 to 500"),
        ("[[1, 2", "not valid JSON"),
    ],
)
def test_bad_strokes_show_the_result_page_with_the_reason(
    client, settings, media_root, strokes, reason
):
    settings.COLORIA_SYNC_JOBS = True
    job = _submit(client)
    response = client.post(reverse("colorize:job-refine", args=[job.id]), {"strokes": strokes})
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_only_the_owner_may_repaint(client, settings, media_root):
    from django.test import Client

    settings.COLORIA_SYNC_JOBS = True
    job = _submit(client)
    stroke = json.dumps([[10, 10, "#ff0000"]])
    response = Client().post(reverse("colorize:job-refine", args=[job.id]), {"strokes": stroke})
    assert response.status_code == 404
    assert Job.objects.count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_painting_a_stroke_on_a_result_and_applying_it_shows_the_repainted_result(
    live_server, browser_page, settings, media_root, tmp_path
):
    settings.COLORIA_SYNC_JOBS = True  # the jobs run inside the requests: no worker needed here
    path = tmp_path / "portrait.png"
    path.write_bytes(encode(make_photo(200, 100)))
    page = browser_page
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(path))
    page.select_option("#model", "zhang-eccv16")
    page.click("#submit-button")
    page.wait_for_selector("#scribble-canvas")
    wait_until(page, "document.querySelector('#scribble-canvas').width > 0")
    assert page.locator("#scribble-apply").is_disabled()

    page.locator("#scribble-colour").fill("#ff0000")
    box = page.locator("#scribble-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.2)
    page.click("#scribble-undo")  # the second stroke goes again
    page.screenshot(path=str(media_root.parent / "scribbles.png"), full_page=True)
    page.click("#scribble-apply")
    page.wait_for_selector("#result")
    wait_until(page, "document.querySelector('#result').naturalWidth > 0")

    first, refined = Job.objects.order_by("queued_at")
    assert refined.model_key == "scribbles" and refined.status == Job.Status.SUCCEEDED
    assert refined.params["refines"] == str(first.id)
    (stroke,) = refined.params["hints"]
    assert stroke["color"] == [255, 0, 0] and len(stroke["points"]) >= 2
    xs = [x for x, _ in stroke["points"]]
    assert 30 <= min(xs) <= 50 and 70 <= max(xs) <= 90  # in the photo's pixels (200 wide)
    assert page.url.endswith(f"/jobs/{refined.id}/")
    text = page.locator(".details").inner_text()
    assert "Starting from" in text and "Colour solved at" in text and "1 stroke" in text
