"""Where a job becomes an image: what a worker runs (`job_run`), how a run fails or ends, and
running a job again (an owner's retry or re-run with new parameters)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

import ml
from ml.color import encode_png
from ml.errors import ColorizeError, InvalidParameters, WeightsNotInstalled

from .. import callbacks, worker
from ..models import Job, Result
from . import video
from .errors import SubmissionError
from .expiry import batch_refresh_expiry
from .quotas import quota_charge, quota_check, quota_client
from .submission import check_hints_inside, enqueue_job, jsonable, refuse_suspended

SCRIBBLES = "scribbles"  # the model that repaints a result with strokes (ml/catalogue/guided.py)

log = logging.getLogger(__name__)


def job_run(*, job_id: uuid.UUID | str) -> Job | None:
    """Run one queued job (what a worker executes).

    Idempotent: a job that is not queued (taken by another worker, or done) is left alone. The
    run claims the job with a token and only that run can finish it (colorize.services.recovery):
    a job handed back, recovered or cancelled while the model ran keeps no result from it.
    """
    from .recovery import claim

    token = claim(job_id)
    if token is None:
        log.info("job %s is not queued; nothing to do", job_id)
        return Job.objects.filter(pk=job_id).first()
    job = Job.objects.select_related("upload").get(pk=job_id)
    try:
        with worker.running(job.pk, token):
            result = video.run_film(job, token) if job.is_video else _colorize(job)
        try:
            with transaction.atomic():
                # Only this run of a job still running finishes it: a moderator may have
                # cancelled it meanwhile, or a sweeper taken it for lost.
                finished = Job.objects.filter(
                    pk=job.pk, status=Job.Status.RUNNING, run_token=token
                ).update(status=Job.Status.SUCCEEDED, error="", finished_at=timezone.now())
                if not finished:
                    raise _NoLongerRunning
                Result.objects.filter(job=job).delete()
                result.save()
        except Exception:
            result.image.delete(save=False)
            result.poster.delete(save=False)  # a film's
            raise
        job.refresh_from_db()
        if job.is_video:
            video.finished(job.pk)
    except (_NoLongerRunning, video.Stopped):
        log.info(
            "job %s was cancelled, handed back or deleted while it ran; result dropped", job_id
        )
        return Job.objects.filter(pk=job_id).first()  # None when its owner deleted it
    except WeightsNotInstalled as exc:
        # Visitors read this on the result page: no shell command; the log tells the admin.
        log.error("job %s: %s", job_id, exc)
        spec_name = ml.get_spec(job.model_key).name
        reason = f"{spec_name} is not installed on this site any more: try another model."
        if not _fail(job, reason, token):
            return job
    except ColorizeError as exc:
        if not _fail(job, str(exc), token):
            return job
    except Exception as exc:
        log.exception("job %s failed", job_id)
        reason = f"Colorizing failed because of an internal error ({type(exc).__name__})."
        if not _fail(job, reason, token):
            return job
    batch_refresh_expiry(batch_id=job.batch_id)
    callbacks.notify_finished(job)
    return job


def _colorize(job: Job) -> Result:
    """The model's result for a job, its PNG stored (not yet saved as a row)."""
    params = dict(job.params)
    with contextlib.ExitStack() as files:
        original = files.enter_context(job.upload.image.open("rb"))
        base = _refined_result(job, params.get("refines"))
        if base is not None:
            params["base"] = files.enter_context(base.image.open("rb"))
        if ml.get_spec(job.model_key).needs_reference:
            if not job.upload.reference:
                raise InvalidParameters("The reference photo of this job has been deleted.")
            params["reference"] = files.enter_context(job.upload.reference.open("rb"))
        colorized = ml.colorize(original, model=job.model_key, **params)
    png = encode_png(colorized)  # a fast zlib level: see ml.color.PNG_COMPRESS_LEVEL
    result = Result(
        job=job,
        width=colorized.width,
        height=colorized.height,
        details=colorized.info.get("coloria", {}),
    )
    result.image.save("result.png", ContentFile(png), save=False)
    return result


def _refined_result(job: Job, refines: str | None) -> Result | None:
    """The result a refining job starts from: only ever one of the same photo's."""
    if not refines:
        return None
    base = Result.objects.filter(job_id=refines, job__upload_id=job.upload_id).first()
    if base is None:
        raise InvalidParameters("The result these strokes refine has been deleted.")
    return base


class _NoLongerRunning(Exception):
    """The job was cancelled while the model ran."""


def _fail(job: Job, message: str, token: uuid.UUID | None = None) -> bool:
    """Fail a running job (the run holding `token`); False if it was no longer running (a
    moderator cancelled it, and the cancellation's own message is kept)."""
    running = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)
    if token is not None:
        running = running.filter(run_token=token)
    failed = running.update(status=Job.Status.FAILED, error=message, finished_at=timezone.now())
    job.refresh_from_db()
    return bool(failed)


def job_mark_lost(*, job_id: uuid.UUID | str, reason: str) -> None:
    """A worker died or timed out while running a job: fail it instead of leaving it running."""
    from .recovery import drop_run_file

    lost = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
    jobs = list(lost)
    lost.update(status=Job.Status.FAILED, error=reason, finished_at=timezone.now(), run_token=None)
    for job in jobs:
        drop_run_file(job.pk, job.run_token)
        batch_refresh_expiry(batch_id=job.batch_id)
        callbacks.notify_finished(job)


def job_rerun(
    *, job: Job, params: dict[str, Any], client_address: str = "", charge_quota: bool = True
) -> Job:
    """A new job on the same photo with the same model and new parameters (e.g. colour hints).

    It runs the model again, so it counts against its owner's daily quota (not when a
    moderator asks for it: `charge_quota=False`)."""
    try:
        spec = ml.get_spec(job.model_key)
        cleaned = spec.clean_params({**job.params, **params})
    except ColorizeError as exc:
        raise SubmissionError(str(exc), field="params") from None
    shown = job.result if job.has_result else job.upload  # where the hints were clicked
    check_hints_inside(cleaned, shown.width, shown.height, "the photo")
    return _queue_again(
        job, job.model_key, cleaned, client_address=client_address, charge_quota=charge_quota
    )


def _queue_again(
    job: Job,
    model_key: str,
    cleaned: dict[str, Any],
    *,
    client_address: str = "",
    charge_quota: bool = True,
) -> Job:
    """A new job on the photo of `job` (same batch, same owner), charged to its owner."""
    owner = job.owner if charge_quota else None
    client = ""
    if charge_quota:
        refuse_suspended(owner)
        client = quota_client(owner=owner, address=client_address, session_key=job.session_key)
        quota_check(owner=owner, client=client, jobs=1)
    with transaction.atomic():
        if charge_quota:
            quota_charge(owner=owner, client=client, jobs=1)
        rerun = Job.objects.create(
            batch=job.batch,
            upload=job.upload,
            owner=job.owner,
            session_key=job.session_key,
            model_key=model_key,
            kind=job.kind,
            params=jsonable(cleaned),
        )
        batch_refresh_expiry(batch_id=job.batch_id)  # running again: not deleted meanwhile
        transaction.on_commit(lambda: enqueue_job(rerun.id, rerun.model_key))
    return rerun


def job_try_model(*, job: Job, model_key: str, client_address: str = "") -> Job:
    """A new job on the same photo with another model, at its default settings ("try another
    model on this photo"), in the same submission so that the two can be compared."""
    from .submission import available_model_keys

    try:
        spec = ml.get_spec(model_key)
    except ColorizeError:
        raise SubmissionError(f"Unknown model “{model_key}”.", field="model") from None
    if model_key not in available_model_keys():
        raise SubmissionError(f"{spec.name} is not installed on this site.", field="model")
    if spec.missing_required({}):
        raise SubmissionError(
            f"{spec.name} needs more than the photo: choose it on the upload page.", field="model"
        )
    if job.is_video and not spec.video:
        raise SubmissionError(f"{spec.name} cannot colorize a film.", field="model")
    cleaned = spec.clean_params({})
    return _queue_again(job, model_key, cleaned, client_address=client_address)


def job_refine(*, job: Job, hints: Any, client_address: str = "") -> Job:
    """A new job on the same photo that repaints the result of `job` with colour strokes (the
    scribbles model on top of it): what the strokes touch changes, the rest stays."""
    if not job.has_result:
        raise SubmissionError("Only a finished result can be refined.")
    if job.is_video:
        raise SubmissionError("Colour strokes repaint a photo, not a film.")
    spec = ml.get_spec(SCRIBBLES)
    try:
        cleaned = spec.clean_params({"hints": hints, "refines": str(job.id)})
    except ColorizeError as exc:
        raise SubmissionError(str(exc), field="params") from None
    check_hints_inside(cleaned, job.result.width, job.result.height, "the photo")
    return _queue_again(job, SCRIBBLES, cleaned, client_address=client_address)


def job_retry(*, job: Job) -> Job:
    """Queue a failed job again (its owner asked, or an administrator), or one stuck running
    because its worker is gone (see Job.is_stuck)."""
    if job.is_stuck:
        from .recovery import recover

        recover(job, by_owner=True)
        job.refresh_from_db()
        return job
    if job.status != Job.Status.FAILED:
        raise SubmissionError("Only a failed job can be retried.", field="job")
    updated = Job.objects.filter(pk=job.pk, status=Job.Status.FAILED).update(
        status=Job.Status.QUEUED,
        error="",
        queued_at=timezone.now(),
        started_at=None,
        finished_at=None,
    )
    if updated:
        batch_refresh_expiry(batch_id=job.batch_id)
        transaction.on_commit(lambda: enqueue_job(job.pk, job.model_key))
    job.refresh_from_db()
    return job


CANCELLED = "Cancelled."


def job_cancel(*, job: Job) -> bool:
    """Stop a queued or running job at its owner's request: failed with "Cancelled." (a retry
    runs it again; a film goes on from the frames it kept). A running film's worker sees it
    within COLORIA_VIDEO_PROGRESS_SECONDS and stops; a photo's run keeps no result. False when
    the job had finished already."""
    cancelled = Job.objects.filter(pk=job.pk, status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
    done = cancelled.update(
        status=Job.Status.FAILED, error=CANCELLED, finished_at=timezone.now(), run_token=None
    )
    job.refresh_from_db()
    if done:
        batch_refresh_expiry(batch_id=job.batch_id)
        callbacks.notify_finished(job)
    return bool(done)
