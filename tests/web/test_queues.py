"""Two queues: with COLORIA_GPU_QUEUE on, the jobs of models that need a GPU (ModelSpec.needs_gpu)
wait in "<COLORIA_QUEUE_NAME>-gpu" and the rest in "<COLORIA_QUEUE_NAME>", and a worker serves
the queue COLORIA_WORKER_QUEUES names; off (the default), one queue holds every job. Checked on the
broker of the test pass (ORM rows' keys, or Redis lists), and with real qcluster processes."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from colorize import queues
from colorize.models import Job, Result
from colorize.services import recovery, submission
from tests.conftest import TOY_CATALOGUE, encode, make_photo
from tests.web.cluster import Cluster, database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
GPU_TOY = "tests.toy_family.gpu"
BASE = django_settings.COLORIA_QUEUE_NAME
GPU_NAME = django_settings.COLORIA_GPU_QUEUE_NAME


@pytest.fixture
def gpu_toy(toy_family):
    """The toy family plus `toy-gpu` (the toy network, marked as needing a GPU); toy_family
    puts the registry back afterwards."""
    from ml import catalogue

    if GPU_TOY in sys.modules:
        importlib.reload(sys.modules[GPU_TOY])
    else:
        catalogue.load_module(GPU_TOY)
    return toy_family


@pytest.fixture
def split(settings, gpu_toy):
    settings.COLORIA_SYNC_JOBS = False
    settings.COLORIA_GPU_QUEUE = True
    yield gpu_toy
    for name in (BASE, GPU_NAME):  # leave no task behind in a shared Redis
        from django_q.brokers import get_broker

        get_broker(name).purge_queue()


def waiting_in(name: str) -> set[str]:
    """The ids of the jobs whose tasks wait in one queue of the broker."""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    broker = get_broker(name)
    if isinstance(broker, ORM):
        packages = list(OrmQ.objects.filter(key=name).values_list("payload", flat=True))
    else:
        packages = broker.connection.lrange(broker.list_key, 0, -1)
    return {str(SignedPackage.loads(p)["args"][0]) for p in packages}


def submit(model_key: str, **params) -> list[Job]:
    photo = SimpleUploadedFile("p.png", encode(make_photo(48, 40)))
    batch = submission.job_submit(files=[photo], model_key=model_key, params=params)
    return list(batch.jobs.all())


def test_the_catalogue_sends_the_heavy_models_to_gpu_workers():
    import ml

    on_gpu = {spec.key for spec in ml.list_models() if spec.needs_gpu}
    assert {"deoldify-stable", "deoldify-video", "deoldify-stable-coloria", "bigcolor",
            "bigcolor-coloria", "ddcolor-paper", "ddcolor-modelscope",
            "ddcolor-artistic"} <= on_gpu  # fmt: skip
    for light in ("coloria-lite", "zhang-eccv16", "zhang-eccv16-coloria", "cnn-coloria",
                  "ddcolor-tiny", "deoldify-artistic", "scribbles", "reference"):  # fmt: skip
        assert light not in on_gpu
    assert ml.get_spec("bigcolor").queue == "gpu" and ml.get_spec("scribbles").queue == "cpu"


@pytest.mark.django_db
def test_split_queues_put_each_job_of_all_models_in_its_kind_of_queue(
    split, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = {job.model_key: str(job.pk) for job in submit("all")}
    assert {"toy-gpu", "toy-slow", "zhang-eccv16"} <= set(jobs)
    in_gpu, in_cpu = waiting_in(GPU_NAME), waiting_in(BASE)
    assert jobs["toy-gpu"] in in_gpu and jobs["toy-gpu"] not in in_cpu
    for key in ("toy-slow", "zhang-eccv16"):
        assert jobs[key] in in_cpu and jobs[key] not in in_gpu
    # The sweeper looks in both queues: a waiting GPU job is not handed over a second time.
    assert set(jobs.values()) <= recovery.broker_job_ids()


@pytest.mark.django_db
def test_one_queue_holds_every_job_unless_split(
    settings, gpu_toy, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = False
    assert settings.COLORIA_GPU_QUEUE is False  # the default: one worker serves every model
    assert queues.cluster_names() == [BASE]
    with django_capture_on_commit_callbacks(execute=True):
        (job,) = submit("toy-gpu")
    assert str(job.pk) in waiting_in(BASE) and str(job.pk) not in waiting_in(GPU_NAME)
    from django_q.brokers import get_broker

    get_broker(BASE).purge_queue()


@pytest.mark.django_db
def test_a_lost_gpu_job_goes_back_to_the_gpu_queue(split, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        (job,) = submit("toy-gpu")
    from django_q.brokers import get_broker

    get_broker(GPU_NAME).purge_queue()  # a GPU worker took it ...
    token = recovery.claim(job.pk)
    assert token is not None
    later = timezone.now() + timedelta(seconds=django_settings.COLORIA_WORKER_LOST_SECONDS + 5)
    assert recovery.sweep(now=later)["queued"] == 1  # ... and died
    assert waiting_in(GPU_NAME) == {str(job.pk)} and str(job.pk) not in waiting_in(BASE)


def worker_settings(**env: str) -> str:
    """What a process's django-q2 makes of the environment: the queue its cluster serves."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'coloria_site.settings'); django.setup(); from django_q.conf import Conf; "
        "print(Conf.PREFIX, Conf.CLUSTER_NAME)"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COLORIA_WORKER")}
    environment.update(COLORIA_QUEUE_NAME="site", **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else f"failed: {done.stderr}"


def test_a_worker_serves_the_queue_its_environment_names():
    assert worker_settings() == "site site"
    assert worker_settings(COLORIA_GPU_QUEUE="1", COLORIA_WORKER_QUEUES="gpu") == "site site-gpu"
    assert worker_settings(COLORIA_GPU_QUEUE="1", COLORIA_WORKER_QUEUES="cpu") == "site site"
    # Not split: every job waits in the one queue, which any worker serves.
    assert worker_settings(COLORIA_WORKER_QUEUES="gpu") == "site site"
    assert "COLORIA_WORKER_QUEUES names the queues" in worker_settings(COLORIA_WORKER_QUEUES="fast")


def test_qcluster_refuses_to_serve_two_split_queues_in_one_process(tmp_path):
    environment = dict(os.environ, COLORIA_GPU_QUEUE="true", COLORIA_SECRET_KEY="k" * 50,
                       DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")  # fmt: skip
    environment.pop("COLORIA_WORKER_QUEUES", None)
    done = subprocess.run([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "coloria.Q001" in done.stderr and "COLORIA_WORKER_QUEUES=cpu" in done.stderr


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_cpu_worker_runs_cpu_jobs_and_leaves_gpu_jobs_to_a_gpu_worker(
    split, media_root, tmp_path
):
    lost = 4
    env = {
        "COLORIA_MEDIA_ROOT": str(media_root),
        "COLORIA_WEIGHTS_DIR": str(split),  # the toy weights
        "COLORIA_EXTRA_CATALOGUES": f"{TOY_CATALOGUE},{GPU_TOY}",
        "COLORIA_HEARTBEAT_SECONDS": "1",
        "COLORIA_WORKER_LOST_SECONDS": str(lost),
        "COLORIA_GPU_QUEUE": "true",
        "DATABASE_URL": database_url(),
    }
    (gpu_job,) = submit("toy-gpu")
    (cpu_job,) = submit("toy-slow")
    cpu_worker = Cluster(tmp_path / "cpu.log", **env, COLORIA_WORKER_QUEUES="cpu")
    clusters = [cpu_worker]
    try:
        wait_for(lambda: Job.objects.get(pk=cpu_job.pk).status == Job.Status.SUCCEEDED, 120,
                 "the CPU worker runs the CPU job", clusters)  # fmt: skip
        time.sleep(2.5 * lost)  # sweeps run meanwhile: none may hand the GPU job over again
        gpu_job.refresh_from_db()
        assert gpu_job.status == Job.Status.QUEUED and gpu_job.enqueue_count == 1
        assert waiting_in(GPU_NAME) == {str(gpu_job.pk)}

        gpu_worker = Cluster(tmp_path / "gpu.log", **env, COLORIA_WORKER_QUEUES="gpu")
        clusters.append(gpu_worker)
        wait_for(lambda: Job.objects.get(pk=gpu_job.pk).status == Job.Status.SUCCEEDED, 120,
                 "the GPU worker runs the GPU job", clusters)  # fmt: skip
        assert Result.objects.filter(job__in=[gpu_job, cpu_job]).count() == 2
        workers = dict(
            Job.objects.filter(pk__in=[gpu_job.pk, cpu_job.pk]).values_list("pk", "worker")
        )
        assert workers[gpu_job.pk] != workers[cpu_job.pk]
    finally:
        for cluster in clusters:
            print(cluster.stop()[-3000:])
