"""Proof on this machine (#22): Coloria as a fleet of real processes. The production web server
(scripts/serve: gunicorn) and two `qcluster` workers, each with a data directory of its own as on
separate machines, share only the database, the broker (this test pass's: SQLite + the ORM
broker, or PostgreSQL + Redis) and a bucket on a local S3 server. 30 photos go in through the
API over HTTP; one worker machine dies (SIGKILL of its whole process group) while it runs a job;
all 30 jobs end succeeded exactly once, their results in the bucket once each and readable
through the API."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from PIL import Image

from colorize.models import Job, Result
from tests.conftest import encode, make_photo
from tests.s3 import Bucket, environment, free_port, local_s3_server
from tests.web.cluster import Cluster, database_url, wait_for
from tests.web.helpers import assert_is_colorization_of

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.s3,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "fleet"  # the bucket's objects go under a prefix, as in a bucket shared with others
JOBS, PER_REQUEST = 30, 5
LOST_SECONDS = 4  # a running job not heard from for this long is taken for lost
SIZE = (64, 48)
ARTIFACTS = Path(os.environ.get("COLORIA_TEST_ARTIFACTS", "var/test-artifacts"))


def shared_database_url() -> str:
    """The test database for every process. On SQLite, with the options of the default settings
    (wait for the write lock rather than fail), since a web server and two workers write to it."""
    url = database_url()
    return f"{url}?timeout=20&transaction_mode=IMMEDIATE" if url.startswith("sqlite") else url


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body (what `curl -F` sends) and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        )
        body.write(value.encode() + b"\r\n")
    for name, filename, content in files:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        )
        body.write(content + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


class Api:
    """The API over HTTP, with a token, as a script on another machine uses it."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def request(self, path: str, data: bytes | None = None, content_type: str = ""):
        headers = {"Authorization": f"Token {self.key}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def record(figures: dict[str, float | int | bool]) -> None:
    """Keep the run's timeline (seconds since the test started) in the test artifacts."""
    broker = "redis" if django_settings.Q_CLUSTER.get("redis") else "orm"
    rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    print(f"fleet ({broker}):", rounded)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "fleet.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[broker] = rounded
    path.write_text(json.dumps(data, indent=2) + "\n")


def up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def in_group(worker: str, cluster: Cluster) -> bool:
    """Whether the worker named in a job ("host:pid") is a process of this cluster."""
    try:
        return os.getpgid(int(worker.rsplit(":", 1)[1])) == cluster.process.pid
    except (ProcessLookupError, ValueError, IndexError):
        return False


@pytest.fixture
def s3_bucket():
    with local_s3_server() as endpoint:
        yield endpoint, Bucket(endpoint, f"coloria-{uuid.uuid4().hex[:12]}", prefix=PREFIX)


def test_a_fleet_finishes_every_job_once_when_a_worker_machine_dies(
    s3_bucket, settings, make_user, random_weights_dir, tmp_path
):
    started = time.monotonic()
    endpoint, bucket = s3_bucket
    settings.COLORIA_SYNC_JOBS = False
    settings.COLORIA_WORKER_LOST_SECONDS = LOST_SECONDS
    machine = {
        **environment(endpoint, bucket.name, prefix=PREFIX),
        "DATABASE_URL": shared_database_url(),
        "COLORIA_SYNC_JOBS": "false",
        "COLORIA_WEIGHTS_DIR": str(random_weights_dir),
        "COLORIA_HEARTBEAT_SECONDS": "1",
        "COLORIA_WORKER_LOST_SECONDS": str(LOST_SECONDS),
        "COLORIA_WORKERS": "1",
    }
    machines = {name: tmp_path / name for name in ("web", "worker-a", "worker-b")}

    def data_dir(name: str) -> dict[str, str]:
        """A machine's own disk: its data directory, and a MEDIA_ROOT that must stay empty."""
        own = machines[name]
        return {"COLORIA_DATA_DIR": str(own / "data"), "COLORIA_MEDIA_ROOT": str(own / "media")}

    # Two worker machines.
    clusters = [
        Cluster(tmp_path / f"{name}.log", **{**machine, **data_dir(name)})
        for name in ("worker-a", "worker-b")
    ]
    first, second = clusters
    # The web machine: scripts/serve as an operator runs it (migrate, collectstatic, gunicorn).
    port = free_port()
    web_env = dict(os.environ)
    web_env.update(
        machine, **data_dir("web"), COLORIA_PORT=str(port), COLORIA_WEB_WORKERS="2",
        COLORIA_PYTHON_BIN=os.environ.get("COLORIA_PYTHON_BIN", str(ROOT / ".venv/bin/python")),
        PYTHONUNBUFFERED="1",
    )  # fmt: skip
    web_log = tmp_path / "web.log"
    with open(web_log, "w") as out:
        web = subprocess.Popen(
            [str(ROOT / "scripts/serve")], cwd=ROOT, env=web_env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, float | int | bool] = {}
    try:
        wait_for(lambda: up(f"{base}/healthz") or web.poll() is not None, 240, "gunicorn serves")
        assert web.poll() is None, web_log.read_text()[-3000:]
        figures["web up"] = time.monotonic() - started

        ann = make_user("ann")
        from accounts.services import token_create

        api = Api(base, token_create(ann, "fleet")[1])
        photos: dict[str, Image.Image] = {}
        for first_seed in range(0, JOBS, PER_REQUEST):
            sent = {
                f"photo-{seed}.png": make_photo(*SIZE, seed=seed)
                for seed in range(first_seed, first_seed + PER_REQUEST)
            }
            body, content_type = multipart(
                {"model": "zhang-eccv16"},
                [("images", name, encode(photo)) for name, photo in sent.items()],
            )
            status, _, answer = api.request("/api/v1/jobs", body, content_type)
            assert status == 202, answer
            jobs = json.loads(answer)["jobs"]
            assert len(jobs) == PER_REQUEST  # queued (a quick worker may have started one)
            assert all(j["status"] in ("queued", "running", "succeeded") for j in jobs), jobs
            names = Job.objects.filter(pk__in=[j["id"] for j in jobs]).values_list(
                "id", "upload__original_name"
            )
            photos.update({str(pk): sent[name] for pk, name in names})
        assert len(photos) == JOBS
        figures["submitted"] = time.monotonic() - started

        # The first worker machine dies while it runs a job, after it has finished one: early in
        # the run (its model at work), so that it dies mid-run rather than while it commits.
        finished_on_first: set[str] = set()

        def running_on_first() -> Job | None:
            succeeded = Job.objects.filter(status=Job.Status.SUCCEEDED)
            assert succeeded.count() < JOBS, "every job finished before a worker could be killed"
            if not finished_on_first:
                workers = succeeded.values_list("worker", flat=True)
                finished_on_first.update(w for w in workers if in_group(w, first))
                if not finished_on_first:
                    return None
            fresh = timezone.now() - timedelta(seconds=1)
            running = Job.objects.filter(status=Job.Status.RUNNING, started_at__gt=fresh)
            return next((job for job in running if in_group(job.worker, first)), None)

        victim: list[Job] = []

        def caught() -> bool:
            job = running_on_first()
            victim.extend([job] if job else [])
            return job is not None

        wait_for(caught, 240, "a job runs on the first worker after it finished one", clusters)
        first.signal_all(signal.SIGKILL)
        first.wait_gone(30)
        killed_at = timezone.now()
        figures["killed"] = time.monotonic() - started
        lost = Job.objects.get(pk=victim[0].pk)
        lost_mid_run = lost.status == Job.Status.RUNNING  # it may have just finished
        done_at_kill = Job.objects.filter(status=Job.Status.SUCCEEDED).count()
        assert done_at_kill < JOBS
        figures.update({"succeeded at the kill": done_at_kill, "killed mid-run": lost_mid_run})

        wait_for(
            lambda: Job.objects.filter(status__in=Job.FINISHED).count() == JOBS,
            300, "every job finishes on the surviving worker", [second],
        )  # fmt: skip
        figures["all finished"] = time.monotonic() - started
        if django_settings.Q_CLUSTER.get("redis"):
            # The web machine sees the surviving worker machine through Redis. (On the ORM
            # broker the workers' status lives in each data directory's cache: one machine's.)
            status, _, ready = api.request("/readyz")
            assert status == 200 and json.loads(ready)["checks"]["worker"]["ok"], ready

        # Exactly once: every job succeeded with one result, and the bucket holds 30 results.
        jobs = list(Job.objects.filter(pk__in=photos))
        assert len(jobs) == JOBS
        failed = [(j.pk, j.status, j.error) for j in jobs if j.status != Job.Status.SUCCEEDED]
        assert not failed
        per_job = Counter(Result.objects.values_list("job_id", flat=True))
        assert len(per_job) == JOBS and set(per_job.values()) == {1}
        attempts = {str(j.pk): j.attempts for j in jobs}
        assert set(attempts.values()) <= {1, 2}
        if lost_mid_run:
            # Its first run died with the machine; another process (the surviving machine's)
            # ran it again.
            assert attempts[str(lost.pk)] == 2
            assert Job.objects.get(pk=lost.pk).worker not in ("", lost.worker)
        assert [pk for pk, n in attempts.items() if n == 2] == ([str(lost.pk)] * lost_mid_run)
        stored = {
            item["Key"]: item["LastModified"]
            for page in bucket.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket.name, Prefix=f"{PREFIX}/results/"
            )
            for item in page.get("Contents", [])
        }
        results = {bucket.key(j.result.image.name) for j in jobs}
        assert len(results) == JOBS and results <= set(stored)
        # No run wrote a second result. The one object allowed besides them is the killed run's
        # own PNG, if it died between storing it and committing its job (nothing can delete it
        # then): written before the kill (the bucket's times are whole seconds).
        leftover = {key: at for key, at in stored.items() if key not in results}
        assert len(leftover) <= int(lost_mid_run), leftover
        assert all(at <= killed_at + timedelta(seconds=1) for at in leftover.values()), leftover
        figures["orphan result objects"] = len(leftover)

        # Every result through the API over HTTP, a colorization of the photo sent.
        for pk, photo in photos.items():
            status, _, png = api.request(f"/api/v1/jobs/{pk}/result")
            assert status == 200, png
            assert_is_colorization_of(png, photo)
        status, _, listing = api.request(f"/api/v1/jobs?status=succeeded&page_size={JOBS}")
        assert status == 200 and len(json.loads(listing)["results"]) == JOBS

        # Nothing went to any machine's local disk: the bucket is the only photo store.
        for name, directory in machines.items():
            assert not (directory / "media").exists(), f"{name} wrote photos to its disk"
        figures["checked"] = time.monotonic() - started
        runs = sorted((j.finished_at - j.started_at).total_seconds() for j in jobs)
        figures["median job seconds"] = runs[len(runs) // 2]
    finally:
        if web.poll() is None:
            web.send_signal(signal.SIGTERM)
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait()
        for cluster in clusters:
            if not cluster.log.closed:  # wait_for stops them when it gives up
                print(cluster.stop()[-3000:])
        print(web_log.read_text()[-3000:])
        record(figures)
