"""An owner's gallery: publishing a colorized photo and withdrawing it."""

from __future__ import annotations

import logging

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
