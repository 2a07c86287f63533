"""Moderation by staff (from the admin): hiding, cancelling, re-running and deleting, each
recorded with its reason in the moderation log."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import callbacks
from ..models import Batch, Job, ModerationAction, Upload
from .errors import ModerationError, SubmissionError
from .expiry import batch_refresh_expiry
from .running import job_rerun, job_retry
from .storage import delete_files_on_commit, files_of_uploads, job_delete

log = logging.getLogger(__name__)


def _moderation_reason(moderator: Any, reason: str) -> str:
    if not (getattr(moderator, "is_authenticated", False) and moderator.is_staff):
        raise ModerationError("Only staff may moderate.")
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ModerationError("Give a reason: every moderation action is recorded with its why.")
    return cleaned[:500]


def _target(target: Any) -> tuple[str, str, str, Any]:
    """(type, id, description, whose) of a moderated thing; descriptions name no person."""
    if isinstance(target, Job):
        return "job", str(target.pk), f"job {target.pk} ({target.model_key})", target.owner_id
    if isinstance(target, Upload):
        described = f"upload {target.pk} ({target.width}×{target.height} {target.format})"
        return "upload", str(target.pk), described, target.owner_id
    return "user", str(target.pk), f"user #{target.pk}", target.pk


def moderation_record(*, moderator: Any, action: str, target: Any, reason: str) -> ModerationAction:
    """Record who did what to which thing, when and why (call inside the action's transaction,
    so that a record exists exactly when the action happened)."""
    reason = _moderation_reason(moderator, reason)
    target_type, target_id, described, subject_id = _target(target)
    return ModerationAction.objects.create(
        moderator=moderator,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=described[:200],
        subject_user_id=subject_id,
        reason=reason,
    )


def job_hide(*, job: Job, moderator: Any, reason: str) -> bool:
    """Take a job out of the gallery and public view; its owner still sees it, with the reason.
    False if it was hidden already (nothing recorded)."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        hidden = Job.objects.filter(pk=job.pk, hidden_at__isnull=True).update(
            hidden_at=timezone.now(), hidden_reason=reason
        )
        if hidden:
            moderation_record(
                moderator=moderator, action=ModerationAction.Action.HIDE, target=job, reason=reason
            )
    job.refresh_from_db()
    return bool(hidden)


def job_unhide(*, job: Job, moderator: Any, reason: str) -> bool:
    """Undo a hide (a published job returns to the gallery). False if it was not hidden."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        shown = Job.objects.filter(pk=job.pk, hidden_at__isnull=False).update(
            hidden_at=None, hidden_reason=""
        )
        if shown:
            moderation_record(
                moderator=moderator,
                action=ModerationAction.Action.UNHIDE,
                target=job,
                reason=reason,
            )
    job.refresh_from_db()
    return bool(shown)


def upload_hide(*, upload: Upload, moderator: Any, reason: str) -> int:
    """Hide every job made from this photo; returns how many were not hidden before."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        hidden = Job.objects.filter(upload=upload, hidden_at__isnull=True).update(
            hidden_at=timezone.now(), hidden_reason=reason
        )
        if hidden:
            moderation_record(
                moderator=moderator,
                action=ModerationAction.Action.HIDE,
                target=upload,
                reason=reason,
            )
    return hidden


def job_cancel(*, job: Job, moderator: Any, reason: str) -> bool:
    """Stop a queued or running job: it fails with the moderator's reason, and a worker that is
    still running it drops its result (`job_run`). False if it had finished already."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        cancelled = Job.objects.filter(
            pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).update(
            status=Job.Status.FAILED,
            error=f"Cancelled by a moderator. Reason: {reason}",
            finished_at=timezone.now(),
        )
        if cancelled:
            moderation_record(
                moderator=moderator,
                action=ModerationAction.Action.CANCEL,
                target=job,
                reason=reason,
            )
            batch_refresh_expiry(batch_id=job.batch_id)
    job.refresh_from_db()
    if cancelled:
        callbacks.notify_finished(job)
    return bool(cancelled)


def job_requeue(*, job: Job, moderator: Any, reason: str) -> Job:
    """A moderator's re-run: a failed job is queued again; a succeeded one gets a new job on the
    same photo, model and parameters (its result is kept). Returns the queued job. Not charged
    to the owner's quota."""
    reason = _moderation_reason(moderator, reason)
    if not job.is_finished:
        raise ModerationError(
            f"Job {job.pk} is {job.get_status_display().lower()} already: cancel it first to "
            "run it again."
        )
    with transaction.atomic():
        if job.status == Job.Status.FAILED:
            queued = job_retry(job=job)
        else:
            try:
                queued = job_rerun(job=job, params={}, charge_quota=False)
            except SubmissionError as exc:
                raise ModerationError(exc.message) from None
        moderation_record(
            moderator=moderator, action=ModerationAction.Action.RERUN, target=job, reason=reason
        )
    return queued


def job_delete_moderated(*, job: Job, moderator: Any, reason: str) -> None:
    """A moderator deletes a job, its result file, and its original when nothing else uses it."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        moderation_record(
            moderator=moderator, action=ModerationAction.Action.DELETE, target=job, reason=reason
        )
        job_delete(job=job)


def upload_delete(*, upload: Upload, moderator: Any, reason: str) -> None:
    """A moderator deletes a photo with every job and result made from it, and their files."""
    reason = _moderation_reason(moderator, reason)
    with transaction.atomic():
        moderation_record(
            moderator=moderator,
            action=ModerationAction.Action.DELETE,
            target=upload,
            reason=reason,
        )
        delete_files_on_commit(files_of_uploads([upload.pk]))
        Upload.objects.filter(pk=upload.pk).delete()  # jobs and results cascade
        Batch.objects.filter(pk=upload.batch_id, uploads__isnull=True).delete()
