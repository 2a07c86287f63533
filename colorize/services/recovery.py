"""Jobs survive their workers: a worker that dies (killed, out of memory, a crash) or is stopped
leaves no job running for ever, and no queued job is lost with a broker's in-memory copy.

- A worker claims a job with a fresh token (`claim`) and, while running it, beats every
  COLORIA_HEARTBEAT_SECONDS (colorize.worker); only the run holding the token may finish the job,
  so one job never gets two results.
- The sweeper (`sweep`, a django-q2 schedule every minute, and once when a worker starts) takes a
  running job not heard from for COLORIA_WORKER_LOST_SECONDS for lost: it queues it again while
  it has runs left (COLORIA_JOB_MAX_ATTEMPTS), then fails it with a reason people can read.
- The database is the queue's source of truth: a queued job the broker no longer holds (Redis
  loses what a dead cluster had taken ahead; the ORM broker hides it for its retry time) is handed
  to the broker again, backing off so that a job merely waiting is not piled up.
- A worker asked to stop (SIGTERM) that cannot finish within COLORIA_STOP_GRACE_SECONDS hands
  its job back (`hand_back`): queued again at once, the run not counted.
- A run's result file is named by its token (colorize.models.run_result_name): a worker killed
  after storing the file and before saving its row leaves a file that the run's recovery deletes
  (`drop_run_file`), so lost runs leave nothing behind in the storage.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .. import callbacks, queues
from ..models import RESULT_EXTENSIONS, Job, Result, run_result_name
from . import films
from .expiry import batch_refresh_expiry
from .submission import enqueue_job

log = logging.getLogger(__name__)

LOST_REASON = (
    "The worker running this photo stopped {count} before it finished (it crashed, ran out of "
    "memory or was shut down). Try again; a smaller photo or another model may help."
)


def lost_after() -> timedelta:
    return timedelta(seconds=settings.COLORIA_WORKER_LOST_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def claim(job_id: Any, now: Any = None) -> uuid.UUID | None:
    """Take a queued job for this process: its token, or None if it is not queued (another worker
    has it, or it is done). A running job whose worker is lost is recovered first."""
    now = now or timezone.now()
    token = uuid.uuid4()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, finished_at=None, heartbeat_at=now,
        attempts=F("attempts") + 1, run_token=token, worker=worker_name(),
    )  # fmt: skip
    if claimed:
        return token
    lost = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).filter(_stale(now)).first()
    if lost is not None and recover(lost, now=now) == "queued":
        return claim(job_id, now)  # re-delivered by the broker: run it now
    return None


def beat(job_id: Any, token: uuid.UUID) -> bool:
    """The run holding `token` is alive; False if the job is no longer its to run."""
    return bool(
        Job.objects.filter(pk=job_id, run_token=token, status=Job.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )
    )


def _stale(now: Any) -> Q:
    cutoff = now - lost_after()
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def recover(job: Job, *, now: Any = None, by_owner: bool = False) -> str:
    """A running job whose worker is lost: queued again ("queued") while it has runs left (or
    its owner asks), else failed ("failed"); "" if it changed meanwhile (its worker beat after
    all, or another sweeper got there first)."""
    now = now or timezone.now()
    still_lost = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, run_token=job.run_token)
    if by_owner or job.attempts < settings.COLORIA_JOB_MAX_ATTEMPTS:
        if not still_lost.update(status=Job.Status.QUEUED, run_token=None, worker="", error=""):
            return ""
        drop_run_file(job.pk, job.run_token)
        log.warning("job %s lost its worker %s; queued again", job.pk, job.worker)
        enqueue_job(job.pk, job.model_key)
        return "queued"
    count = "twice" if job.attempts == 2 else f"{job.attempts} times"
    failed = still_lost.update(
        status=Job.Status.FAILED, error=LOST_REASON.format(count=count), finished_at=now,
        run_token=None,
    )  # fmt: skip
    if not failed:
        return ""
    drop_run_file(job.pk, job.run_token)
    log.warning("job %s lost its worker %d times; failed", job.pk, job.attempts)
    job.refresh_from_db()
    batch_refresh_expiry(batch_id=job.batch_id)
    callbacks.notify_finished(job)
    return "failed"


def drop_run_file(job_id: Any, token: uuid.UUID | None) -> None:
    """Delete the result file a run that will never finish may have stored. Its run was given
    up (its token cleared) before this is called, so it can no longer save a row that points at
    the file; a file a saved result uses is never deleted."""
    if token is None:
        return
    for extension in RESULT_EXTENSIONS:  # a photo's PNG, a film's MP4 and poster
        name = run_result_name(job_id, token, extension)
        if Result.objects.filter(Q(image=name) | Q(poster=name)).exists():
            continue
        try:
            Result._meta.get_field("image").storage.delete(name)
        except Exception:  # the storage is down: the file stays, the job goes on
            log.warning("could not delete %s, left by a lost run of %s", name, job_id,
                        exc_info=True)  # fmt: skip


def hand_back(job_id: Any, token: uuid.UUID) -> bool:
    """A stopping worker gives its job back unfinished: queued again, this run not counted."""
    handed = Job.objects.filter(pk=job_id, run_token=token, status=Job.Status.RUNNING).update(
        status=Job.Status.QUEUED, run_token=None, worker="", attempts=F("attempts") - 1
    )
    if handed:
        enqueue_job(job_id)
    return bool(handed)


def sweep(now: Any = None) -> dict[str, int]:
    """Recover lost running jobs and re-enqueue queued jobs the broker lost; returns counts."""
    now = now or timezone.now()
    counts = {"queued": 0, "failed": 0, "re-enqueued": 0}
    for job in Job.objects.filter(status=Job.Status.RUNNING).filter(_stale(now)):
        outcome = recover(job, now=now)
        if outcome:
            counts[outcome] += 1
    counts["re-enqueued"] = _reenqueue_lost(now)
    try:
        films.prune_work_dirs()  # this machine's frames of films gone or done
    except OSError:
        log.warning("could not prune the films' work folders", exc_info=True)
    if any(counts.values()):
        log.info("swept jobs: %s", counts)
    return counts


def _reenqueue_lost(now: Any) -> int:
    """Queued jobs handed to the broker a while ago that it does not hold (as far as it can be
    asked). A job taken ahead by a live worker is invisible too: the wait before handing it over
    again doubles each time, so such a job gets a few harmless duplicates at most (a duplicate
    finds it running, or done, and does nothing)."""
    held = broker_job_ids()
    waiting = Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(enqueued_at__isnull=True, queued_at__lt=now - lost_after())
        | Q(enqueued_at__lt=now - lost_after())
    )
    count = 0
    for job in waiting.only("pk", "model_key", "enqueued_at", "enqueue_count"):
        if held is not None and str(job.pk) in held:
            continue
        backoff = lost_after() * 2 ** min(max(job.enqueue_count - 1, 0), 6)
        if job.enqueued_at is not None and now - job.enqueued_at < backoff:
            continue
        enqueue_job(job.pk, job.model_key)
        count += 1
    return count


def broker_job_ids() -> set[str] | None:
    """The ids of the jobs whose tasks the broker holds for a worker to take, in any of the
    site's queues (CPU and GPU), or None for a broker that cannot be listed. (Tasks a worker took
    ahead are not there.)"""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis
    from django_q.signing import SignedPackage

    packages: list[Any] = []
    for name in queues.cluster_names():
        broker = get_broker(name)
        if isinstance(broker, ORM):
            from django_q.models import OrmQ

            visible = OrmQ.objects.filter(key=broker.list_key, lock__lte=timezone.now())
            packages.extend(visible.values_list("payload", flat=True))
        elif isinstance(broker, Redis):
            packages.extend(broker.connection.lrange(broker.list_key, 0, -1))
        else:
            return None
    ids = set()
    for package in packages:
        try:
            task = SignedPackage.loads(package)
        except Exception:  # noqa: S112 - a task that is not ours or not readable: not a job's
            continue
        if task.get("func") == "colorize.tasks.run_job" and task.get("args"):
            ids.add(str(task["args"][0]))
    return ids
