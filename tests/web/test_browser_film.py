"""A short film in a real browser (Debian's Chromium, strict CSP, console errors fail): a 3-second
clip dropped on the upload page, its progress frame by frame while the worker runs it, and the
colorized film played under the before/after divider, the original in step (issue #24)."""

from __future__ import annotations

import threading
import time

from django.db import connection

from colorize.models import Job
from colorize.services import running, video
from tests.ml.video_clips import make_clip
from tests.web import test_browser_site as browser_site
from tests.web.helpers import wait_until

page, artifacts = browser_site.page, browser_site.artifacts
drop, shoot, pytestmark = browser_site.drop, browser_site.shoot, browser_site.pytestmark

H264 = 'video/mp4; codecs="avc1.42E01E"'


def test_a_film_from_upload_to_the_player(
    page, live_server, settings, monkeypatch, tmp_path, artifacts
):
    settings.COLORIA_SYNC_JOBS = False  # the test runs the worker, while the page watches
    settings.COLORIA_VIDEO_WORK_DIR = tmp_path / "films"
    settings.COLORIA_VIDEO_PROGRESS_SECONDS = 0.2
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    clip = make_clip(tmp_path / "street.mp4", width=160, height=120, frames=30, fps=10)

    page.goto(live_server.url + "/")
    assert page.evaluate(f"document.createElement('video').canPlayType('{H264}')") != "", (
        "this Chromium cannot play H.264 MP4"
    )
    drop(page, [("street.mp4", clip.read_bytes(), "video/mp4")])
    wait_until(page, "document.querySelectorAll('#thumbs .thumb').length === 1")
    assert page.locator("#upload-errors").is_hidden()
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert job.kind == "video" and job.status == Job.Status.QUEUED

    # The worker, a frame every ~0.1 s at least, so that the page sees frames go by.
    update = video._Progress.update

    def slowed(self, done, total):
        time.sleep(0.1)
        update(self, done, total)

    monkeypatch.setattr(video._Progress, "update", slowed)

    def work() -> None:
        try:
            running.job_run(job_id=job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        wait_until(page, "/^frame \\d+ of 30/.test("
                   "document.querySelector('#film-progress-text').textContent)", 60)  # fmt: skip
        assert page.evaluate("document.querySelector('#film-progress').value") > 0
        shoot(page, artifacts, "film-progress")
    finally:
        worker.join(120)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error

    # The page reloads itself once done: the player, the poster, the download.
    page.wait_for_selector("#film-result", timeout=30_000)
    page.wait_for_load_state("load")
    wait_until(page, "document.querySelector('#film-result').readyState >= 2", 30)
    wait_until(page, "document.querySelector('#film-original').readyState >= 2", 30)
    assert page.locator("#download-mp4").is_visible()
    page.click("#film-play")
    wait_until(page, "document.querySelector('#film-result').currentTime > 0.5", 15)
    drift = page.evaluate(
        "Math.abs(document.querySelector('#film-result').currentTime - "
        "document.querySelector('#film-original').currentTime)"
    )
    assert drift < 0.4, drift
    assert page.evaluate("document.querySelector('#film-original').paused") is False
    # The divider moves over the playing film: the original shows on its left only.
    page.focus(".ba-film .ba-handle")
    page.keyboard.press("Home")
    assert page.get_attribute(".ba-film .ba-handle", "aria-valuenow") == "0"
    box = page.locator(".ba-film").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    position = int(page.get_attribute(".ba-film .ba-handle", "aria-valuenow"))
    assert 70 <= position <= 80
    clip_path = page.evaluate("getComputedStyle(document.querySelector('#film-original')).clipPath")
    assert "inset" in clip_path
    assert page.evaluate("document.querySelector('#film-result').paused") is False
    shoot(page, artifacts, "film-player")
    page.click("#film-play")
    wait_until(page, "document.querySelector('#film-original').paused", 5)
