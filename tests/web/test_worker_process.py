"""The whole path in real processes: Chromium submits the web form, a real `qcluster` worker
process (ORM broker, or Redis when REDIS_URL is set) runs the model, the page shows the result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from colorize.models import Job
from tests.conftest import encode, make_photo
from tests.web.helpers import assert_is_colorization_of

pytestmark = [pytest.mark.worker, pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The URL of the test database this process uses, for the worker process to use too."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER'] or ''}@{host}/{db['NAME']}"


@pytest.fixture
def worker(live_server, media_root, random_weights_dir):
    env = dict(
        os.environ,
        DATABASE_URL=_database_url(),
        COLORIA_MEDIA_ROOT=str(media_root),
        COLORIA_WEIGHTS_DIR=str(random_weights_dir),
        COLORIA_SYNC_JOBS="false",
        PYTHONUNBUFFERED="1",
    )
    log = open(media_root.parent / "qcluster.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.seek(0)
    print(log.read())
    log.close()


def test_browser_upload_is_colorized_by_a_real_worker(worker, live_server, browser_page, tmp_path):
    assert django_settings.Q_CLUSTER.get("redis") or django_settings.Q_CLUSTER.get("orm")
    photo = make_photo(160, 120)
    path = tmp_path / "street.png"
    path.write_bytes(encode(photo))

    page = browser_page
    page.goto(live_server.url + "/")
    page.set_input_files("#images", str(path))
    page.select_option("#model", "zhang-eccv16")
    page.click("#submit-button")
    page.wait_for_url("**/jobs/*/")

    # The job page refreshes itself until the worker has finished.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = page.get_attribute("[data-status]", "data-status")
        if status in ("succeeded", "failed"):
            break
        time.sleep(1)
        if worker.poll() is not None:
            pytest.fail("the qcluster process exited")
    assert status == "succeeded", page.inner_text("main")

    job = Job.objects.get()
    assert job.attempts == 1
    result_url = page.get_attribute("#result", "src")
    response = page.context.request.get(live_server.url + result_url)
    assert response.ok
    assert_is_colorization_of(response.body(), photo)
