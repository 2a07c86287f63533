"""Jobs survive their workers, with real qcluster processes on the broker of this test pass (the
ORM broker on SQLite; Redis on PostgreSQL): a worker killed mid-job (SIGKILL of the worker, or of
the whole cluster), a cluster stopped by SIGTERM to every process (systemd's default stop) with a
job that cannot finish within the grace and with one that can. In every case the running job and
the jobs queued behind it end succeeded, each with exactly one result; how long each took is kept
in the test artifacts (worker-recovery.json) for the kill-scenario table."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from colorize.models import Job, Result
from colorize.services import submission
from tests.conftest import TOY_CATALOGUE, encode, make_photo
from tests.web.cluster import Cluster, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOST_SECONDS = 4  # a running job not heard from for this long is taken for lost
ARTIFACTS = Path(os.environ.get("COLORIA_TEST_ARTIFACTS", "var/test-artifacts"))


def broker() -> str:
    return "redis" if django_settings.Q_CLUSTER.get("redis") else "orm"


@pytest.fixture
def liveness(settings, media_root, toy_family, tmp_path):
    settings.COLORIA_SYNC_JOBS = False
    settings.COLORIA_WORKER_LOST_SECONDS = LOST_SECONDS
    settings.COLORIA_HEARTBEAT_SECONDS = 1
    env = {
        "COLORIA_MEDIA_ROOT": str(media_root),
        "COLORIA_WEIGHTS_DIR": str(toy_family),
        "COLORIA_EXTRA_CATALOGUES": TOY_CATALOGUE,
        "COLORIA_HEARTBEAT_SECONDS": "1",
        "COLORIA_WORKER_LOST_SECONDS": str(LOST_SECONDS),
        "COLORIA_WORKERS": "1",
    }
    started: list[Cluster] = []

    def start(**extra: str) -> Cluster:
        cluster = Cluster(tmp_path / "qcluster.log", **env, **extra)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        print(cluster.stop()[-4000:])


def submit(seconds: float) -> Job:
    photo = SimpleUploadedFile("p.png", encode(make_photo(48, 40)))
    batch = submission.job_submit(files=[photo], model_key="toy-slow", params={"seconds": seconds})
    return batch.jobs.get()


def status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def record(scenario: str, figures: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "worker-recovery.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[f"{scenario} / {broker()}"] = figures
    path.write_text(json.dumps(data, indent=2) + "\n")


def assert_all_done_once(jobs: list[Job]) -> None:
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, (job.pk, job.status, job.error)
        assert Result.objects.filter(job=job).count() == 1


def start_slow_job_with_two_behind(start, slow_seconds: float, **env: str):
    cluster = start(**env)
    slow = submit(slow_seconds)
    wait_for(lambda: status(slow) == Job.Status.RUNNING, 120, "the slow job starts", [cluster])
    behind = [submit(0), submit(0)]
    time.sleep(1.5)  # the cluster takes what it takes ahead
    return cluster, slow, behind


def test_a_killed_worker_process_loses_no_job(liveness):
    cluster, slow, behind = start_slow_job_with_two_behind(liveness, 6)
    pid = int(Job.objects.get(pk=slow.pk).worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)  # an out-of-memory kill of the worker alone
    killed = time.monotonic()
    wait_for(lambda: status(slow) == Job.Status.SUCCEEDED, 120, "the lost job reruns", [cluster])
    slow_done = time.monotonic() - killed
    wait_for(lambda: all(status(j) == "succeeded" for j in behind), 60, "queued jobs run")
    assert_all_done_once([slow, *behind])
    assert Job.objects.get(pk=slow.pk).attempts == 2
    record("SIGKILL worker process",
           {"running job": "succeeded on its 2nd run", "seconds to succeed": round(slow_done, 1),
            "queued behind": "succeeded",
            "seconds for all": round(time.monotonic() - killed, 1)})  # fmt: skip


def test_a_killed_cluster_loses_no_job_when_a_new_one_starts(liveness):
    cluster, slow, behind = start_slow_job_with_two_behind(liveness, 6)
    cluster.signal_all(signal.SIGKILL)  # the machine's worker service dies whole
    cluster.wait_gone(30)
    killed = time.monotonic()
    assert status(slow) == Job.Status.RUNNING
    replacement = liveness()
    wait_for(
        lambda: status(slow) == Job.Status.SUCCEEDED, 120, "the lost job reruns", [replacement]
    )
    slow_done = time.monotonic() - killed
    wait_for(lambda: all(status(j) == "succeeded" for j in behind), 120, "queued jobs run",
             [replacement])  # fmt: skip
    assert_all_done_once([slow, *behind])
    assert Job.objects.get(pk=slow.pk).attempts == 2
    record("SIGKILL whole cluster, new cluster started",
           {"running job": "succeeded on its 2nd run", "seconds to succeed": round(slow_done, 1),
            "queued behind": "succeeded",
            "seconds for all": round(time.monotonic() - killed, 1)})  # fmt: skip


def worker_pid(job: Job) -> int:
    return int(Job.objects.get(pk=job.pk).worker.rsplit(":", 1)[1])


def wait_pid_gone(pid: int, timeout: float) -> float:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    return wait_for(gone, timeout, f"worker process {pid} exits")


def test_sigterm_hands_back_a_job_that_cannot_finish_in_the_grace(liveness):
    cluster, slow, behind = start_slow_job_with_two_behind(
        liveness, 8, COLORIA_STOP_GRACE_SECONDS="2"
    )
    pid = worker_pid(slow)
    cluster.signal_all(signal.SIGTERM)  # systemd's default stop: every process of the service
    stopped_in = wait_pid_gone(pid, 30)
    assert stopped_in < 8  # the grace (2 s) and leaving, not the rest of the job's 8 s
    # Every process of the cluster leaves, its main process too (colorize's qcluster command:
    # django-q2's own hangs once the signal has killed its sentinel).
    group_gone = cluster.wait_gone(10)
    job = Job.objects.get(pk=slow.pk)
    assert job.status == Job.Status.QUEUED and job.attempts == 0  # handed back, run not counted
    restarted = time.monotonic()
    replacement = liveness()
    wait_for(lambda: status(slow) == Job.Status.SUCCEEDED, 120, "the job runs again", [replacement])
    slow_done = time.monotonic() - restarted
    wait_for(lambda: all(status(j) == "succeeded" for j in behind), 120, "queued jobs run",
             [replacement])  # fmt: skip
    assert_all_done_once([slow, *behind])
    assert Job.objects.get(pk=slow.pk).attempts == 1
    record("SIGTERM all processes, job longer than the grace",
           {"running job": "handed back, then succeeded (1 run counted)",
            "seconds to stop": round(stopped_in, 1),
            "seconds until the whole cluster was gone after that": round(group_gone, 1),
            "seconds to succeed after restart": round(slow_done, 1),
            "queued behind": "succeeded after restart"})  # fmt: skip


def test_sigterm_lets_a_job_finish_within_the_grace(liveness):
    cluster, slow, behind = start_slow_job_with_two_behind(
        liveness, 3, COLORIA_STOP_GRACE_SECONDS="20"
    )
    pid = worker_pid(slow)
    cluster.signal_all(signal.SIGTERM)
    stopped_in = wait_pid_gone(pid, 40)
    cluster.wait_gone(10)
    job = Job.objects.get(pk=slow.pk)
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 1
    assert stopped_in < 20
    replacement = liveness()
    wait_for(lambda: all(status(j) == "succeeded" for j in behind), 120, "queued jobs run",
             [replacement])  # fmt: skip
    assert_all_done_once([slow, *behind])
    record("SIGTERM all processes, job shorter than the grace",
           {"running job": "finished before the worker left",
            "seconds to stop": round(stopped_in, 1),
            "queued behind": "succeeded after restart"})  # fmt: skip


def test_a_stuck_job_can_be_retried_by_its_owner(client, liveness, make_user):
    """Its worker gone (no cluster runs now), the owner need not wait for the sweeper."""
    from colorize.services import running

    cluster = liveness()
    ann = make_user("ann")
    photo = SimpleUploadedFile("p.png", encode(make_photo(48, 40)))
    slow = submission.job_submit(
        files=[photo], model_key="toy-slow", params={"seconds": 30}, owner=ann
    ).jobs.get()
    wait_for(lambda: status(slow) == Job.Status.RUNNING, 120, "the job starts", [cluster])
    cluster.signal_all(signal.SIGKILL)
    cluster.wait_gone(30)
    slow.refresh_from_db()
    assert not slow.is_stuck  # heard from a moment ago
    Job.objects.filter(pk=slow.pk).update(heartbeat_at=slow.heartbeat_at.replace(year=2000))
    slow.refresh_from_db()
    assert slow.is_stuck
    client.force_login(ann)
    assert "This photo seems stuck" in client.get(f"/jobs/{slow.pk}/").content.decode()
    response = client.post(f"/jobs/{slow.pk}/retry")
    assert response.status_code == 302
    assert status(slow) == Job.Status.QUEUED
    with pytest.raises(running.SubmissionError):
        running.job_retry(job=Job.objects.get(pk=slow.pk))  # queued now: nothing to retry


@pytest.mark.parametrize("to", ["every process", "the main process"])
def test_an_idle_cluster_stops_whole_on_sigterm(liveness, to):
    """However a supervisor sends SIGTERM (to the whole group, systemd's default; or to the main
    process, KillMode=mixed), no process of the cluster is left waiting for its SIGKILL."""
    cluster = liveness()
    job = submit(0)
    wait_for(lambda: status(job) == Job.Status.SUCCEEDED, 120, "the cluster runs", [cluster])
    if to == "every process":
        cluster.signal_all(signal.SIGTERM)
    else:
        cluster.process.send_signal(signal.SIGTERM)
    assert cluster.wait_gone(30) < 30
    assert cluster.process.wait(5) == 0
