"""Who may see what: a job or batch for its viewer, a job behind a share link, owners'
histories, the public gallery, and counts per owner."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from coloria_site.prepared import PreparedQuery

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


def _viewer_job(*, job_id: Any, user: Any, session_key: str) -> QuerySet[Job]:
    return Job.objects.filter(
        _visible_to(user, session_key) | PUBLIC_JOBS, pk=job_id
    ).select_related("upload", "result", "batch")


def _signed_in(pk: Any) -> Any:
    """A stand-in for a signed-in user who is not staff: what `_visible_to` reads of one."""
    return get_user_model()(pk=pk, is_staff=False)


# Result pages are read most by their signed-in owners: that shape of the query (the rule is
# `_visible_to`'s, for a signed-in user who is not staff) is compiled once (coloria_site.prepared).
_JOB_FOR_SIGNED_IN = PreparedQuery(
    Job,
    lambda user_id, job_id: _viewer_job(job_id=job_id, user=_signed_in(user_id), session_key=""),
    fields=("owner", "id"),
    stand_ins=((1, uuid.UUID(int=1)), (2, uuid.UUID(int=2))),
)


def job_for_viewer(*, job_id: Any, user: Any, session_key: str) -> Job | None:
    """The job if this viewer may see it, else None (callers answer 404: no existence leak).

    Published, non-hidden jobs are visible to everyone, read-only."""
    if getattr(user, "is_authenticated", False) and not user.is_staff:
        return _JOB_FOR_SIGNED_IN.first(user.pk, job_id)
    return _viewer_job(job_id=job_id, user=user, session_key=session_key).first()


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


# A result page steps through its submission's jobs (coloria_site.prepared: compiled once).
_BATCH_JOB_IDS = PreparedQuery(
    Job,
    lambda batch_id: (
        Job.objects.filter(batch_id=batch_id).order_by(*BATCH_ORDER).values_list("id", flat=True)
    ),
    fields=("batch",),
    stand_ins=((uuid.UUID(int=1),), (uuid.UUID(int=2),)),
)


def batch_job_ids(batch: Batch) -> list[Any]:
    """The ids of a submission's jobs, in `BATCH_ORDER`."""
    return _BATCH_JOB_IDS.all(batch.pk)


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


def _history_jobs(jobs: QuerySet[Job], ids: list[Any]) -> QuerySet[Job]:
    return (
        jobs.filter(batch_id__in=ids)
        .select_related("upload", "result", "batch")
        .only(*HISTORY_FIELDS)
        .order_by(*BATCH_ORDER)
    )


# The jobs of an unfiltered history page, compiled once a number of submissions on the page (a
# page has up to 8; coloria_site.prepared).
_unfiltered_history: dict[int, PreparedQuery] = {}


def _unfiltered_history_jobs(user: Any, ids: list[Any]) -> list[Job]:
    count = len(ids)
    if count not in _unfiltered_history:
        _unfiltered_history[count] = PreparedQuery(
            Job,
            lambda user_id, *ids: _history_jobs(Job.objects.filter(owner=_signed_in(user_id)), ids),
            fields=("owner", *["batch"] * count),
            stand_ins=tuple(
                (user_id, *(uuid.UUID(int=user_id << 8 | n) for n in range(count)))
                for user_id in (1, 2)
            ),
        )
    return _unfiltered_history[count].all(user.pk, *ids)


def _batches(jobs: QuerySet[Job]) -> QuerySet:
    """The submissions of these jobs, each with its newest job's time, newest first."""
    # Ordered by their newest job: a photo run again comes back to the top with its submission.
    return jobs.values("batch_id").annotate(latest=Max("queued_at")).order_by("-latest", "batch_id")


# The history's pages unfiltered (the ones most asked for): how many submissions a user has, and
# each page's (one query a page's slice; those past the first few pages are compiled each time).
_SUBMISSION_COUNT = PreparedQuery(
    Job,
    lambda user_id: (
        Job.objects.filter(owner=_signed_in(user_id))
        .order_by()
        .values("owner")
        .annotate(submissions=Count("batch_id", distinct=True))
        .values_list("submissions", flat=True)
    ),
    fields=("owner",),
    stand_ins=((1,), (2,)),
)
_submission_pages: dict[tuple[int, int], PreparedQuery] = {}
_MAX_PAGES_KEPT = 64


class _UnfilteredBatches:
    """`_batches` of all a user's jobs, as the history's Paginator reads them (their count, a
    page's slice), with SQL compiled once (coloria_site.prepared)."""

    ordered = True

    def __init__(self, user: Any) -> None:
        self.user = user

    def count(self) -> int:
        found = _SUBMISSION_COUNT.all(self.user.pk)
        return found[0] if found else 0  # a user with no jobs has no group to count

    def __getitem__(self, part: slice) -> list[dict[str, Any]]:
        key = (part.start, part.stop)
        if part.start == part.stop:  # an empty first page
            return []
        if key not in _submission_pages:
            if len(_submission_pages) >= _MAX_PAGES_KEPT:
                return list(_batches(Job.objects.filter(owner=self.user))[part])
            _submission_pages[key] = PreparedQuery(
                Job,
                lambda user_id: _batches(Job.objects.filter(owner=_signed_in(user_id)))[part],
                fields=("owner",),
                stand_ins=((1,), (2,)),
            )
        return _submission_pages[key].all(self.user.pk)


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
    filtered = bool(model_key) or status in HISTORY_STATUSES
    batches = _batches(jobs) if filtered else _UnfilteredBatches(user)
    found = Paginator(batches, per_page).get_page(page)
    ids = [row["batch_id"] for row in found.object_list]
    grouped: dict[Any, list[Job]] = {batch_id: [] for batch_id in ids}
    by_id: dict[Any, Batch] = {}
    # Every listed batch has a matching job (it was found through them), so its row comes with
    # them; only what the page shows is read (a page lists up to 8 submissions' jobs).
    if ids and not filtered:
        shown = _unfiltered_history_jobs(user, ids)  # the page most asked for: compiled once
    else:
        shown = list(_history_jobs(jobs, ids))
    for job in with_model_names(shown):
        grouped[job.batch_id].append(job)
        by_id[job.batch_id] = job.batch
    found.object_list = [HistoryGroup(batch=by_id[i], jobs=grouped[i]) for i in ids]
    return found


def _recent(*, user: Any, session_key: str, limit: int) -> QuerySet[Job]:
    jobs = Job.objects.filter(_owned_by(user, session_key))
    if not getattr(user, "is_authenticated", False):
        jobs = jobs.filter(
            Q(upload__expires_at__isnull=True) | Q(upload__expires_at__gt=timezone.now())
        )
    return jobs.select_related("upload", "result").only(*TILE_FIELDS).order_by("-queued_at")[:limit]


# The home page shows a signed-in user's latest few: that query compiled once (a limit is part
# of the SQL, so one a limit; coloria_site.prepared).
_recent_of_signed_in: dict[int, PreparedQuery] = {}


def recent_jobs(*, user: Any, session_key: str, limit: int) -> list[Job]:
    """The viewer's latest jobs for the home page, newest first: a signed-in user's, or those an
    anonymous visitor's browser session sent that are not yet past their deletion time (the
    clean-up runs every minute, so an expired one may still be stored: it is not shown)."""
    if not getattr(user, "is_authenticated", False):
        return with_model_names(list(_recent(user=user, session_key=session_key, limit=limit)))
    if limit not in _recent_of_signed_in:
        _recent_of_signed_in[limit] = PreparedQuery(
            Job,
            lambda user_id: _recent(user=_signed_in(user_id), session_key="", limit=limit),
            fields=("owner",),
            stand_ins=((1,), (2,)),
        )
    return with_model_names(_recent_of_signed_in[limit].all(user.pk))


# Compiled once (coloria_site.prepared): every history page lists them.
_USER_MODEL_KEYS = PreparedQuery(
    Job,
    # No ordering: the model's default one (by time) would make DISTINCT keep a row a job.
    lambda user_id: (
        Job.objects.filter(owner=_signed_in(user_id))
        .order_by()
        .values_list("model_key", flat=True)
        .distinct()
    ),
    fields=("owner",),
    stand_ins=((1,), (2,)),
)


def history_models(*, user: Any) -> list[tuple[str, str]]:
    """(key, name) of the models a user's jobs used, for the history filter."""
    keys = _USER_MODEL_KEYS.all(user.pk)
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
