"""Sharing a colorized photo: publishing it to the public gallery (and withdrawing it), or giving
it an unlisted link that works for anyone who has it (and revoking that link)."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.utils import timezone

from ..models import Job
from .errors import SubmissionError

log = logging.getLogger(__name__)


def job_publish(*, job: Job) -> Job:
    """Put a succeeded job in the public gallery (its owner must have an account)."""
    if job.owner_id is None:
        raise SubmissionError(
            "Sign in to publish: photos sent without an account are deleted after "
            f"{settings.COLORIA_ANONYMOUS_TTL_MINUTES} minutes.",
            field="job",
        )
    if job.is_hidden:
        raise SubmissionError("A moderator hid this photo, so it cannot be published.", field="job")
    if job.status != Job.Status.SUCCEEDED:
        raise SubmissionError("Only a colorized photo can be published.", field="job")
    Job.objects.filter(
        pk=job.pk,
        status=Job.Status.SUCCEEDED,
        hidden_at__isnull=True,
        published_at__isnull=True,
    ).update(published_at=timezone.now())
    job.refresh_from_db()
    return job


def job_unpublish(*, job: Job) -> Job:
    """Withdraw a job from the public gallery."""
    Job.objects.filter(pk=job.pk).update(published_at=None)
    job.refresh_from_db()
    return job


def new_share_token() -> str:
    """32 URL-safe characters from 24 random bytes: a link nobody can guess or enumerate."""
    return secrets.token_urlsafe(24)


def job_share(*, job: Job) -> Job:
    """Give a succeeded job an unlisted share link; a job that has one keeps it (a second click
    must not kill the link already sent). Anonymous visitors may share their results too: the
    link dies with the photo when it expires."""
    if job.is_hidden:
        raise SubmissionError("A moderator hid this photo, so it cannot be shared.", field="job")
    if job.status != Job.Status.SUCCEEDED:
        raise SubmissionError("Only a colorized photo can be shared.", field="job")
    Job.objects.filter(
        pk=job.pk, status=Job.Status.SUCCEEDED, hidden_at__isnull=True, share_token__isnull=True
    ).update(share_token=new_share_token())
    job.refresh_from_db()
    if job.share_token is None:  # a moderator hid it in the meantime
        raise SubmissionError("This photo can no longer be shared.", field="job")
    return job


def job_unshare(*, job: Job) -> Job:
    """Revoke a job's share link: it answers 404 from now on; sharing again makes a new one."""
    Job.objects.filter(pk=job.pk).update(share_token=None)
    job.refresh_from_db()
    return job
