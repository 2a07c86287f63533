"""Who may see what: a job or batch for its viewer, a job behind a share link, owners'
histories, the public gallery, and counts per owner."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from ..models import Batch, Job, Upload
from .model_pages import model_name, with_model_names

log = logging.getLogger(__name__)


def _owned_by(user: Any, session_key: str) -> Q:
    """A signed-in user owns what they sent; an anonymous visitor what their session sent."""
    if getattr(user, "is_authenticated", False):
        return Q(owner=user)
    if not session_key:
        return Q(pk__in=[])
    return Q(owner__isnull=True, session_key=session_key)


def _visible_to(user: Any, session_key: str) -> Q:
    """Staff see everything; owners see their own things (hidden ones too, with the reason)."""
    if getattr(user, "is_authenticated", False) and user.is_staff:
        return Q(pk__isnull=False)  # everything (an empty Q() would vanish when OR-ed)
    return _owned_by(user, session_key)


PUBLIC_JOBS = Q(published_at__isnull=False, hidden_at__isnull=True, status=Job.Status.SUCCEEDED)


def is_public(job: Job) -> bool:
    """Whether everyone may see this job (the same rule as PUBLIC_JOBS, on a loaded job)."""
    return job.is_published and not job.is_hidden and job.status == Job.Status.SUCCEEDED


def job_for_viewer(*, job_id: Any, user: Any, session_key: str) -> Job | None:
    """The job if this viewer may see it, else None (callers answer 404: no existence leak).

    Published, non-hidden jobs are visible to everyone, read-only."""
    return (
        Job.objects.filter(_visible_to(user, session_key) | PUBLIC_JOBS, pk=job_id)
        .select_related("upload", "result", "batch")
        .first()
    )


def job_for_owner(*, job_id: Any, user: Any, session_key: str) -> Job | None:
    """The job if this viewer owns it (may retry, re-run, publish, delete it), else None."""
    return (
        Job.objects.filter(_owned_by(user, session_key), pk=job_id)
        .select_related("upload", "result", "batch")
        .first()
    )


# Share tokens are 32 characters (colorize.services.sharing); anything much longer is not one.
MAX_SHARE_TOKEN = 64


SHARE_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def shared_job(*, token: str) -> Job | None:
    """The job behind an unlisted share link, for anyone who has it, else None (404).

    Only while the link is not revoked, the result exists, no moderator hid it, and the photo
    has not expired: an anonymous photo past its time is gone even before the purge runs."""
    # Tokens are URL-safe base64: anything else (a NUL byte, which PostgreSQL refuses in a
    # query) cannot be one, and is not found rather than an error.
    if not token or len(token) > MAX_SHARE_TOKEN or not SHARE_TOKEN_CHARS.fullmatch(token):
        return None
    not_expired = Q(upload__expires_at__isnull=True) | Q(upload__expires_at__gt=timezone.now())
    return (
        Job.objects.filter(
            not_expired,
            share_token=token,
            status=Job.Status.SUCCEEDED,
            hidden_at__isnull=True,
            result__isnull=False,
        )
        .select_related("upload", "result")
        .first()
    )


def is_owner(thing: Job | Batch, user: Any, session_key: str) -> bool:
    """Whether this viewer owns a job or batch (the same rule as `job_for_owner`)."""
    if getattr(user, "is_authenticated", False):
        return thing.owner_id == user.pk
    return thing.owner_id is None and bool(session_key) and thing.session_key == session_key


def batch_for_viewer(*, batch_id: Any, user: Any, session_key: str) -> Batch | None:
    """Batches are private: their owner (and staff) only."""
    return Batch.objects.filter(_visible_to(user, session_key), pk=batch_id).first()


# A submission's jobs in the order they were sent: photo by photo, then model by model.
BATCH_ORDER = ("upload__created_at", "upload_id", "queued_at", "model_key")


def batch_jobs(batch: Batch) -> QuerySet[Job]:
    return batch.jobs.select_related("upload", "result").order_by(*BATCH_ORDER)


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int
    running: int

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def is_finished(self) -> bool:
        return self.finished == self.total


def progress_of(jobs: list[Job]) -> Progress:
    statuses = [job.status for job in jobs]
    return Progress(
        total=len(statuses),
        done=statuses.count(Job.Status.SUCCEEDED),
        failed=statuses.count(Job.Status.FAILED),
        running=statuses.count(Job.Status.RUNNING),
    )


def batch_expires_at(batch: Batch):
    """When an anonymous batch's photos are deleted (None: not scheduled, or owned)."""
    return (
        Upload.objects.filter(batch=batch, expires_at__isnull=False)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


# The history's status filter: its value in the address, its label, the job statuses it keeps.
HISTORY_STATUSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "done": ("Done", (Job.Status.SUCCEEDED,)),
    "failed": ("Failed", (Job.Status.FAILED,)),
    "in-progress": ("In progress", (Job.Status.QUEUED, Job.Status.RUNNING)),
}


# What a job's tile shows (the home page's recent photos, the history): its status, model and
# parameters (the label), its photo's name, size and deletion time, whether it has a result. A
# field a tile shows that is not here costs a query per tile (tests/web/test_page_costs.py).
TILE_FIELDS = (
    *("id", "batch_id", "upload_id", "model_key", "params", "status"),
    *("upload__original_name", "upload__width", "upload__height", "upload__expires_at"),
    "result__id",
)
# The history's tiles also say whether the photo is published or hidden, under their submission.
HISTORY_FIELDS = (
    *TILE_FIELDS,
    *("published_at", "hidden_at"),
    *("batch__id", "batch__owner_id", "batch__model_key", "batch__created_at"),
)


@dataclass(frozen=True)
class HistoryGroup:
    """One submission in a user's history, with those of its jobs that match the filters."""

    batch: Batch
    jobs: list[Job]

    @property
    def photos(self) -> int:
        return len({job.upload_id for job in self.jobs})

    @property
    def results(self) -> int:
        """More than `photos` when one photo went through several models, or was run again."""
        return len(self.jobs)


def history_page(
    *, user: Any, model_key: str = "", status: str = "", page: Any = 1, per_page: int = 8
) -> Page:
    """A signed-in user's submissions, the most recently active first, as `HistoryGroup`s.

    Pages hold whole submissions, so that one is never split across two pages. A submission is
    listed when any of its jobs matches the filters (a model key, a `HISTORY_STATUSES` key; an
    unknown status filters nothing), and shows only the jobs that match."""
    jobs = Job.objects.filter(owner=user)
    if model_key:
        jobs = jobs.filter(model_key=model_key)
    if status in HISTORY_STATUSES:
        jobs = jobs.filter(status__in=HISTORY_STATUSES[status][1])
    # Ordered by their newest job: a photo run again comes back to the top with its submission.
    batches = (
        jobs.values("batch_id").annotate(latest=Max("queued_at")).order_by("-latest", "batch_id")
    )
    found = Paginator(batches, per_page).get_page(page)
    ids = [row["batch_id"] for row in found.object_list]
    grouped: dict[Any, list[Job]] = {batch_id: [] for batch_id in ids}
    by_id: dict[Any, Batch] = {}
    # Every listed batch has a matching job (it was found through them), so its row comes with
    # them; only what the page shows is read (a page lists up to 8 submissions' jobs).
    shown = (
        jobs.filter(batch_id__in=ids)
        .select_related("upload", "result", "batch")
        .only(*HISTORY_FIELDS)
        .order_by(*BATCH_ORDER)
    )
    for job in with_model_names(list(shown)):
        grouped[job.batch_id].append(job)
        by_id[job.batch_id] = job.batch
    found.object_list = [HistoryGroup(batch=by_id[i], jobs=grouped[i]) for i in ids]
    return found


def recent_jobs(*, user: Any, session_key: str, limit: int) -> list[Job]:
    """The viewer's latest jobs for the home page, newest first: a signed-in user's, or those an
    anonymous visitor's browser session sent that are not yet past their deletion time (the
    clean-up runs every minute, so an expired one may still be stored: it is not shown)."""
    jobs = Job.objects.filter(_owned_by(user, session_key))
    if not getattr(user, "is_authenticated", False):
        jobs = jobs.filter(
            Q(upload__expires_at__isnull=True) | Q(upload__expires_at__gt=timezone.now())
        )
    found = jobs.select_related("upload", "result").only(*TILE_FIELDS).order_by("-queued_at")
    return with_model_names(list(found[:limit]))


def history_models(*, user: Any) -> list[tuple[str, str]]:
    """(key, name) of the models a user's jobs used, for the history filter."""
    # No ordering: the model's default one (by time) would make DISTINCT keep a row a job.
    keys = Job.objects.filter(owner=user).order_by().values_list("model_key", flat=True).distinct()
    return sorted(((key, model_name(key)) for key in set(keys)), key=lambda item: item[1])


def gallery_page(*, page: Any = 1, per_page: int = 12) -> Page:
    jobs = (
        Job.objects.filter(PUBLIC_JOBS).select_related("upload", "result").order_by("-published_at")
    )
    found = Paginator(jobs, per_page).get_page(page)
    found.object_list = with_model_names(list(found.object_list))
    return found


def owner_job_counts(*, owner: Any) -> dict[str, int]:
    """A user's jobs per status, with "total" (for the profile page)."""
    counts = {status: 0 for status in Job.Status.values}
    for row in Job.objects.filter(owner=owner).values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts
