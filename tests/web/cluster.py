"""Real `manage.py qcluster` processes for tests: started with the test database, media and
weights, stopped or killed as an operating system or a supervisor would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database this process uses, for a worker process to use too."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER'] or ''}@{host}/{db['NAME']}"


class Cluster:
    """One qcluster process group (its main process, sentinel, pusher, monitor and workers)."""

    def __init__(self, log_path: Path, **env: str) -> None:
        self.log = open(log_path, "a+")  # noqa: SIM115 - closed in stop()
        environment = dict(
            os.environ, DATABASE_URL=database_url(), COLORIA_SYNC_JOBS="false", PYTHONUNBUFFERED="1"
        )
        environment.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_all(self, signum: int) -> None:
        """Send a signal to every process of the cluster, as systemd's default stop does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def wait_gone(self, timeout: float) -> float:
        """Seconds until no process of the group is left (the group's pids all exit)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return time.monotonic() - started
            self.process.poll()
            time.sleep(0.1)
        raise AssertionError(f"the cluster still runs {timeout} s after it was told to stop")

    def stop(self) -> str:
        """Stop whatever is left and return the log."""
        self.signal_all(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


def wait_for(predicate, timeout: float, what: str, clusters: list[Cluster] = ()) -> float:
    """Poll until `predicate()` is true; seconds it took. Fails with `what` after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    logs = "".join(c.stop()[-3000:] for c in clusters)
    raise AssertionError(f"{what}: not within {timeout} s\n{logs}")
