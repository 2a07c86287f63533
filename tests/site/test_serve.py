"""scripts/serve, the production web server, as an operator runs it: it migrates and collects
the static files before gunicorn starts, serves hashed static files with far-future caching,
reloads on SIGHUP without dropping the service and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def wait_until(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not within {timeout} s\n{log.read_text()[-3000:]}")


def test_serve_migrates_collects_serves_reloads_and_stops(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COLORIA_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        COLORIA_SECRET_KEY="serve-test-" + os.urandom(16).hex(),
        COLORIA_DATA_DIR=str(tmp_path / "data"),
        COLORIA_PORT=str(port),
        COLORIA_WEB_WORKERS="2",
        COLORIA_PYTHON_BIN=os.environ.get("COLORIA_PYTHON_BIN", str(ROOT / ".venv/bin/python")),
    )
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(ROOT / "scripts/serve")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(f"{base}/healthz")[0] == 200, 180, "/healthz", log)
        # Migrated before serving: the database exists and the home page renders from it.
        assert (tmp_path / "data" / "coloria.sqlite3").exists()
        status, _, page = get(f"{base}/")
        assert status == 200
        css = re.search(rb'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
        assert css, "the page links the hashed name of the collected stylesheet"
        status, headers, _ = get(base + css.group(1).decode())
        assert status == 200
        assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
        assert headers.get("Content-Encoding") == "gzip"
        assert (tmp_path / "data" / "static" / "staticfiles.json").exists()

        # SIGHUP: new workers boot, the service goes on. `exec` made the script gunicorn.
        booted = log.read_text().count("Booting worker")
        server.send_signal(signal.SIGHUP)
        wait_until(
            lambda: log.read_text().count("Booting worker") >= booted + 2,
            120,
            "new workers after SIGHUP",
            log,
        )
        assert server.poll() is None
        assert get(f"{base}/healthz")[0] == 200

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert "Shutting down: Master" in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
