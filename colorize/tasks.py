"""django-q2 task functions: thin wrappers around the services, run inside worker processes."""

from __future__ import annotations

from typing import Any

from . import callbacks, worker
from .services import expiry, quotas, recovery, running


def run_job(job_id: str) -> str | None:
    from ml import runtime

    runtime.release_idle()  # models unused for COLORIA_MODEL_TTL go before the next loads
    job = running.job_run(job_id=job_id)
    if worker.stopping():  # SIGTERM came while the job ran, and it is done: leave now
        raise SystemExit(0)
    return job.status if job else None


def sweep_jobs() -> dict[str, int]:
    """Run every minute by the schedule that migration 0009_sweep_jobs_schedule adds."""
    return recovery.sweep()


def job_task_finished(task: Any) -> None:
    """Called by django-q2 when a task ends. A task that failed outside `job_run` (a timeout
    killed the worker, the process died) leaves its job running; fail it with a reason."""
    if task.success or not task.args:
        return
    running.job_mark_lost(
        job_id=task.args[0],
        reason="The worker stopped before this job finished (time limit or crash). Try again.",
    )


def deliver_callback(job_id: str) -> bool:
    """POST a finished job's status (the API's job JSON) to its callback URL, signed."""
    from rest_framework.renderers import JSONRenderer

    from .api.serializers import JobSerializer
    from .models import Job

    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or not job.callback_url or job.owner is None:
        return False
    body = JSONRenderer().render(JobSerializer(job).data)
    return callbacks.deliver(job.callback_url, body, callbacks.callback_secret(job.owner))


def purge_expired() -> int:
    """Run every minute by the django-q2 schedule that migration 0003_web_purge_schedule adds.
    Also forgets quota usage that has left the 24-hour window."""
    quotas.purge_old_usage()
    return expiry.purge_expired_uploads()
