"""What runs inside a django-q2 worker process besides its tasks: the heartbeat of the job it
runs, stopping gracefully on SIGTERM, a sweep when it starts (colorize.services.recovery), and
loading the models COLORIA_WARM_MODELS names before the first job.

django-q2 sends `post_spawn` in each worker process it starts; outside worker processes (the web
server running jobs synchronously, tests) nothing here is active and `running` does nothing.
The sweep runs here too, every half of COLORIA_WORKER_LOST_SECONDS, besides the django-q2
schedule: a schedule's task waits behind the jobs in the queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.dispatch import receiver
from django_q.signals import post_spawn

log = logging.getLogger(__name__)


class _State:
    def __init__(self) -> None:
        self.active = False  # in a worker process
        self.job: tuple[Any, uuid.UUID] | None = None  # (job id, run token) being run
        self.done = threading.Event()  # set when the current job ends
        self.stopping = False


state = _State()


@contextlib.contextmanager
def running(job_id: Any, token: uuid.UUID) -> Iterator[None]:
    """Mark the job this process is running (what the heartbeat names)."""
    state.job, state.done = (job_id, token), threading.Event()
    try:
        yield
    finally:
        state.job = None
        state.done.set()


def stopping() -> bool:
    """A stop was asked for while a job ran; the job is over: leave now (tasks.run_job)."""
    return state.active and state.stopping


@receiver(post_spawn, dispatch_uid="coloria-worker-spawn")
def on_spawn(sender: Any, proc_name: str = "", **kwargs: Any) -> None:
    if not _is_worker():
        return
    state.active = True
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_heartbeat, name="coloria-heartbeat", daemon=True).start()
    threading.Thread(target=_sweep_once, name="coloria-startup-sweep", daemon=True).start()
    _warm_models()


def _warm_models() -> None:
    """Load and warm up the models COLORIA_WARM_MODELS names (ml.runtime.warm) before this
    worker takes its first job: django-q2 sends post_spawn before the worker reads its queue,
    so the first job pays neither the loading nor a fast path's tracing."""
    from ml import runtime

    try:
        runtime.warm()
    except Exception:  # a model that cannot load fails its jobs with a message, not the worker
        log.warning("warming models failed", exc_info=True)


def _is_worker() -> bool:
    # post_spawn is only sent in worker processes; sync mode (tests, debugging) has none.
    return not settings.COLORIA_SYNC_JOBS


def _heartbeat() -> None:
    """Beat for the running job every COLORIA_HEARTBEAT_SECONDS, and sweep every half of
    COLORIA_WORKER_LOST_SECONDS: recovery does not wait for a free worker to run the scheduled
    sweep (every worker may be busy with long jobs), and the sweep's updates are conditional, so
    many workers sweeping at once do each thing once."""
    from colorize.services.recovery import beat, sweep
    from ml import runtime

    interval = settings.COLORIA_HEARTBEAT_SECONDS
    sweep_every = max(1, settings.COLORIA_WORKER_LOST_SECONDS // 2)
    waited = 0.0
    while True:
        threading.Event().wait(interval)
        waited += interval
        current = state.job
        try:
            close_old_connections()
            if current is not None:
                beat(*current)
            if waited >= sweep_every:
                waited = 0.0
                sweep()
        except Exception:  # a database hiccup must not kill the thread: try again next time
            log.warning("heartbeat or sweep failed", exc_info=True)
        try:
            # An idle worker hands back the models unused for COLORIA_MODEL_TTL without waiting
            # for a job (and never waits on a model being loaded).
            runtime.release_idle(wait=False)
        except Exception:
            log.warning("releasing idle models failed", exc_info=True)


def _sweep_once() -> None:
    """A worker starting may be replacing one that died: recover its jobs without waiting for
    the schedule."""
    from colorize.services.recovery import sweep

    try:
        sweep()
    except Exception:
        log.warning("start-up sweep failed", exc_info=True)
    finally:
        close_old_connections()


def _on_sigterm(signum: int, frame: Any) -> None:
    """Asked to stop: an idle worker leaves at once; a busy one finishes its job within the
    grace, or hands it back and leaves."""
    if state.job is None:
        raise SystemExit(0)
    state.stopping = True
    threading.Thread(
        target=_hand_back_after_grace, args=(state.job, state.done), daemon=True
    ).start()


def _hand_back_after_grace(current: tuple[Any, uuid.UUID], done: threading.Event) -> None:
    from colorize.services.recovery import hand_back

    if done.wait(settings.COLORIA_STOP_GRACE_SECONDS):
        return  # finished in time: tasks.run_job leaves after it
    try:
        close_old_connections()
        if hand_back(*current):
            log.warning("stopping: job %s handed back unfinished", current[0])
    finally:
        os._exit(0)  # the model may still be computing: stop without waiting for it
