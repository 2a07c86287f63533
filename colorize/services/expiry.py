"""Anonymous work: it moves to the account its author signs in to, and otherwise is deleted a few
minutes after its jobs finish."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Batch, Job, Kind, Upload
from .storage import delete_files_on_commit, delete_work_dirs_on_commit, files_of_uploads

log = logging.getLogger(__name__)


# The session entry that remembers which session key a visitor's anonymous work was stored
# under: Django gives the session a new key when its visitor signs in (colorize.signals).
ANONYMOUS_SESSION = "coloria_anonymous_session"


def claim_anonymous_work(*, user: Any, session_key: str) -> int:
    """Make a browser session's anonymous batches, uploads and jobs the user's; how many jobs.

    Anonymous photos expire minutes after they finish, and signing up or in to keep them is the
    natural next step, so they move to the account (and stop expiring) rather than vanish from
    the visitor's view. Only rows still without an owner move.
    """
    if not session_key or not getattr(user, "is_authenticated", False):
        return 0
    with transaction.atomic():
        Batch.objects.filter(owner__isnull=True, session_key=session_key).update(owner=user)
        Upload.objects.filter(owner__isnull=True, session_key=session_key).update(
            owner=user, expires_at=None
        )
        return Job.objects.filter(owner__isnull=True, session_key=session_key).update(owner=user)


# A safety net: anonymous photos whose jobs never finished (no worker ran them) go after a day.
ANONYMOUS_MAX_AGE = timedelta(days=1)


def anonymous_ttl() -> timedelta:
    return timedelta(minutes=settings.COLORIA_ANONYMOUS_TTL_MINUTES)


def batch_refresh_expiry(*, batch_id: Any, now: datetime | None = None) -> None:
    """Anonymous batches: once every job has finished, their uploads expire after the TTL;
    while any job is queued or running (a retry, a re-run) they do not expire."""
    if not Batch.objects.filter(pk=batch_id, owner__isnull=True).exists():
        return
    uploads = Upload.objects.filter(batch_id=batch_id, owner__isnull=True)
    if Job.objects.filter(batch_id=batch_id).exclude(status__in=Job.FINISHED).exists():
        uploads.update(expires_at=None)
    else:
        uploads.update(expires_at=(now or timezone.now()) + anonymous_ttl())


def purge_expired_uploads(now: datetime | None = None) -> int:
    """Delete expired uploads with their jobs, results, files and emptied batches.

    Returns the number of uploads deleted. Run every minute by a django-q2 schedule.
    """
    now = now or timezone.now()
    expired = Upload.objects.filter(
        Q(expires_at__lte=now) | Q(owner__isnull=True, created_at__lte=now - ANONYMOUS_MAX_AGE)
    )
    with transaction.atomic():
        upload_ids = list(expired.values_list("pk", flat=True))
        if not upload_ids:
            return 0
        batch_ids = set(Upload.objects.filter(pk__in=upload_ids).values_list("batch_id", flat=True))
        delete_files_on_commit(files_of_uploads(upload_ids))
        films = Job.objects.filter(upload_id__in=upload_ids, kind=Kind.VIDEO)
        delete_work_dirs_on_commit(films.values_list("pk", flat=True))
        Upload.objects.filter(pk__in=upload_ids).delete()  # jobs and results cascade
        Batch.objects.filter(pk__in=batch_ids, uploads__isnull=True).delete()
    log.info("purged %d expired upload(s)", len(upload_ids))
    return len(upload_ids)
