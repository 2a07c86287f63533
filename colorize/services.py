"""Where an upload becomes a job, and a job becomes an image.

`job_submit` validates what a person sent, stores it and queues one job per (image, model);
`job_run` is what the worker executes. Views, the API and django-q2 tasks stay thin and call these.
Quotas are charged in `job_submit` (and owners' re-runs); moderators' actions (hide, cancel,
re-run, delete) are recorded by `moderation_record` as they happen.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.crypto import salted_hmac
from PIL import Image

import ml
from ml.cards import recommended_model, shipped_cards
from ml.errors import ColorizeError
from ml.weights import is_installed

from . import callbacks
from .models import Batch, Job, ModerationAction, Result, Upload, Usage

log = logging.getLogger(__name__)

ALL_MODELS = "all"
# PIL format name -> file extension. Formats outside this list are refused even if PIL reads them.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


class SubmissionError(Exception):
    """A submission was refused; the message is shown to the person who sent it."""

    def __init__(self, message: str, *, field: str = "images") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class QuotaExceeded(SubmissionError):
    """A daily quota is used up; `retry_after` says in how many seconds enough of it is free
    again (None: this request can never fit, e.g. it asks for more than the whole quota)."""

    def __init__(self, message: str, *, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    name: str
    format: str
    width: int
    height: int
    sha256: str


def check_image(upload: UploadedFile) -> CheckedImage:
    """Read and verify one uploaded file; raises SubmissionError with a message naming the file."""
    name = (upload.name or "image")[-255:]
    max_bytes = settings.COLORIA_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise SubmissionError(
            f"{name} is {upload.size / 1_048_576:.1f} MB; the limit is {max_bytes // 1_048_576} MB."
        )
    content = upload.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise SubmissionError(f"{name} is larger than the {max_bytes // 1_048_576} MB limit.")
    if not content:
        raise SubmissionError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(content)) as probe:
            # PIL warns about big images; the pixel limit below is checked explicitly instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image_format = probe.format or "unknown"
            width, height = probe.size
            if image_format not in ACCEPTED_FORMATS:
                raise SubmissionError(
                    f"{name} is a {image_format} image, which is not supported. "
                    "Use JPEG, PNG, WebP, BMP or TIFF."
                )
            # Check the pixel count from the header, before decoding: a small file can declare
            # a gigantic image (a decompression bomb).
            if width * height > settings.COLORIA_MAX_PIXELS:
                raise SubmissionError(
                    f"{name} is {width}×{height} pixels; the limit is "
                    f"{settings.COLORIA_MAX_PIXELS / 1e6:.0f} megapixels."
                )
            if width < 8 or height < 8:
                raise SubmissionError(
                    f"{name} is only {width}×{height} pixels; use a bigger image."
                )
            probe.load()  # decodes every pixel: truncated or corrupt data fails here
    except SubmissionError:
        raise
    except Image.DecompressionBombError:
        raise SubmissionError(f"{name} declares too many pixels to be opened safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = "it is truncated" if "truncated" in str(exc).lower() else "it is not a valid image"
        raise SubmissionError(f"{name} could not be read: {reason}.") from None
    return CheckedImage(
        content=content,
        name=name,
        format=image_format,
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def available_model_keys() -> list[str]:
    """Models whose weights are installed, in registry order."""
    return [spec.key for spec in ml.list_models() if is_installed(spec.weights)]


def default_model_key() -> str | None:
    """The model preselected on the upload form.

    COLORIA_DEFAULT_MODEL when installed; else the shipped model with the best validation figures
    among those that clear the "better than grey" bar (ml.cards); else the first installed model
    that is not a shipped model failing that bar. None when there is no such model: the visitor
    then picks one, since a model that does worse than leaving the photo grey is never the default.
    """
    keys = available_model_keys()
    for preferred in (settings.COLORIA_DEFAULT_MODEL, recommended_model()):
        if preferred in keys:
            return preferred
    failing = {card.model for card in shipped_cards() if not card.clears_the_bar}
    return next((key for key in keys if key not in failing), None)


def _models_for(model_key: str, image_count: int) -> list[str]:
    if model_key == ALL_MODELS:
        if image_count != 1:
            raise SubmissionError(
                "“All models” compares models on one image: choose a single image."
            )
        keys = available_model_keys()
        if not keys:
            raise SubmissionError("No model is installed yet.", field="model")
        return keys
    if not model_key:
        raise SubmissionError("Choose a model to colorize with.", field="model")
    try:
        spec = ml.get_spec(model_key)
    except ColorizeError:
        raise SubmissionError(f"Unknown model “{model_key}”.", field="model") from None
    if not is_installed(spec.weights):
        raise SubmissionError(
            f"{spec.name} is not available: its weights are not installed "
            f"(python manage.py fetch_weights {spec.weights}).",
            field="model",
        )
    return [model_key]


def job_submit(
    *,
    files: list[UploadedFile],
    model_key: str,
    params: dict[str, Any] | None = None,
    owner: Any = None,
    session_key: str = "",
    callback_url: str = "",
    client_address: str = "",
) -> Batch:
    """Validate, store and queue a submission.

    All or nothing: a refused submission stores no file and no row, and uses no quota.
    `callback_url` (REST clients) is called with each job's status when the job ends.
    `client_address` identifies an anonymous client for its daily quota (the web view passes it;
    without it the session is used).
    """
    owner = owner if getattr(owner, "is_authenticated", False) else None
    _refuse_suspended(owner)
    if not files:
        raise SubmissionError("Choose at least one image.")
    if callback_url:
        try:
            callbacks.resolve_target(callback_url)
        except callbacks.RefusedTarget as exc:
            raise SubmissionError(str(exc), field="callback_url") from None
    if len(files) > settings.COLORIA_MAX_BATCH:
        raise SubmissionError(f"At most {settings.COLORIA_MAX_BATCH} images can be sent at once.")
    model_keys = _models_for(model_key, len(files))
    if model_key == ALL_MODELS and params:  # each model takes its own; one none takes is a typo
        known = {param.name for key in model_keys for param in ml.get_spec(key).params}
        if unknown := sorted(set(params) - known):
            raise SubmissionError(
                f"None of the models takes the parameter(s): {', '.join(unknown)}.", field="params"
            )
    runs: dict[str, list[dict[str, Any]]] = {}  # per model: one job's parameters per run
    for key in model_keys:
        spec = ml.get_spec(key)
        # In "all models" mode each model takes the parameters it knows and its defaults otherwise.
        raw = params or {}
        if model_key == ALL_MODELS:
            raw = {
                name: value for name, value in raw.items() if name in {p.name for p in spec.params}
            }
        try:
            runs[key] = spec.runs(spec.clean_params(raw))
        except ColorizeError as exc:
            raise SubmissionError(str(exc), field="params") from None
    client = quota_client(owner=owner, address=client_address, session_key=session_key)
    job_count = len(files) * sum(len(model_runs) for model_runs in runs.values())
    quota_check(owner=owner, client=client, jobs=job_count)  # before reading every file
    checked, problems = [], []
    for upload in files:  # every refused file is named at once, not one per attempt
        try:
            checked.append(check_image(upload))
        except SubmissionError as exc:
            problems.append(exc.message)
    if problems:
        raise SubmissionError(" ".join(problems))

    stored: list[str] = []
    try:
        with transaction.atomic():
            # Charged with the rows it pays for: a submission that fails to store costs nothing.
            _quota_charge(owner=owner, client=client, jobs=job_count)
            batch = Batch.objects.create(owner=owner, session_key=session_key, model_key=model_key)
            for image in checked:
                upload = Upload(
                    batch=batch,
                    owner=owner,
                    session_key=session_key,
                    original_name=image.name,
                    format=image.format,
                    width=image.width,
                    height=image.height,
                    size_bytes=len(image.content),
                    sha256=image.sha256,
                )
                extension = ACCEPTED_FORMATS[image.format]
                upload.image.save(f"upload.{extension}", ContentFile(image.content), save=False)
                stored.append(upload.image.name)
                upload.save()
                for key in model_keys:
                    for run_params in runs[key]:
                        job = Job.objects.create(
                            batch=batch,
                            upload=upload,
                            owner=owner,
                            session_key=session_key,
                            model_key=key,
                            params=_jsonable(run_params),
                            callback_url=callback_url if owner else "",  # accounts only
                        )
                        transaction.on_commit(lambda job_id=job.id: enqueue_job(job_id))
    except Exception:
        for name in stored:  # the rows rolled back; do not leave their files behind
            Upload.image.field.storage.delete(name)
        raise
    return batch


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


def enqueue_job(job_id: uuid.UUID) -> None:
    """Hand a job to the django-q2 queue (or run it at once when COLORIA_SYNC_JOBS is set)."""
    from django_q.tasks import async_task

    async_task(
        "colorize.tasks.run_job",
        str(job_id),
        task_name=f"colorize-{job_id}",
        hook="colorize.tasks.job_task_finished",
        sync=settings.COLORIA_SYNC_JOBS,
    )


def job_run(*, job_id: uuid.UUID | str) -> Job | None:
    """Run one queued job.

    Idempotent: a job that is not queued (taken by another worker, or done) is left alone.
    """
    now = timezone.now()
    taken = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, finished_at=None, attempts=F("attempts") + 1
    )
    if not taken:
        log.info("job %s is not queued; nothing to do", job_id)
        return Job.objects.filter(pk=job_id).first()
    job = Job.objects.select_related("upload").get(pk=job_id)
    try:
        with job.upload.image.open("rb") as original:
            colorized = ml.colorize(original, model=job.model_key, **job.params)
        buffer = io.BytesIO()
        colorized.save(buffer, format="PNG")
        result = Result(
            job=job,
            width=colorized.width,
            height=colorized.height,
            details=colorized.info.get("coloria", {}),
        )
        result.image.save("result.png", ContentFile(buffer.getvalue()), save=False)
        try:
            with transaction.atomic():
                # Only a job still running succeeds: a moderator may have cancelled it meanwhile.
                finished = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
                    status=Job.Status.SUCCEEDED, error="", finished_at=timezone.now()
                )
                if not finished:
                    raise _NoLongerRunning
                Result.objects.filter(job=job).delete()
                result.save()
        except Exception:
            result.image.delete(save=False)
            raise
        job.refresh_from_db()
    except _NoLongerRunning:
        log.info("job %s was cancelled or deleted while it ran; its result is dropped", job_id)
        return Job.objects.filter(pk=job_id).first()  # None when its owner deleted it
    except ColorizeError as exc:
        if not _fail(job, str(exc)):
            return job
    except Exception as exc:
        log.exception("job %s failed", job_id)
        reason = f"Colorizing failed because of an internal error ({type(exc).__name__})."
        if not _fail(job, reason):
            return job
    batch_refresh_expiry(batch_id=job.batch_id)
    _notify_finished(job)
    return job


class _NoLongerRunning(Exception):
    """The job was cancelled while the model ran."""


def _notify_finished(job: Job) -> None:
    """Queue the delivery of a finished job's callback (a task: retries must not hold up the
    worker's next job, nor the request that ran it)."""
    if not job.callback_url:
        return
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "colorize.tasks.deliver_callback",
            str(job.pk),
            task_name=f"callback-{job.pk}",
            sync=settings.COLORIA_SYNC_JOBS,
        )
    )


def _fail(job: Job, message: str) -> bool:
    """Fail a running job; False if it was no longer running (a moderator cancelled it, and
    the cancellation's own message is kept)."""
    failed = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, error=message, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return bool(failed)


def job_mark_lost(*, job_id: uuid.UUID | str, reason: str) -> None:
    """A worker died or timed out while running a job: fail it instead of leaving it running."""
    lost = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
    jobs = list(lost)
    lost.update(status=Job.Status.FAILED, error=reason, finished_at=timezone.now())
    for job in jobs:
        batch_refresh_expiry(batch_id=job.batch_id)
        _notify_finished(job)


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
    owner = job.owner if charge_quota else None
    client = ""
    if charge_quota:
        _refuse_suspended(owner)
        client = quota_client(owner=owner, address=client_address, session_key=job.session_key)
        quota_check(owner=owner, client=client, jobs=1)
    with transaction.atomic():
        if charge_quota:
            _quota_charge(owner=owner, client=client, jobs=1)
        rerun = Job.objects.create(
            batch=job.batch,
            upload=job.upload,
            owner=job.owner,
            session_key=job.session_key,
            model_key=job.model_key,
            params=_jsonable(cleaned),
        )
        batch_refresh_expiry(batch_id=job.batch_id)  # running again: not deleted meanwhile
        transaction.on_commit(lambda: enqueue_job(rerun.id))
    return rerun


def job_retry(*, job: Job) -> Job:
    """Queue a failed job again (its owner asked, or an administrator)."""
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
        transaction.on_commit(lambda: enqueue_job(job.pk))
    job.refresh_from_db()
    return job


# --- Anonymous work that its author signs in to keep ----------------------------------------

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


# --- Expiry of anonymous uploads ------------------------------------------------------------

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


def _delete_files_on_commit(names: list[tuple[Any, str]]) -> None:
    """Delete stored files once the rows that named them are gone for good."""

    def delete() -> None:
        for storage, name in names:
            try:
                storage.delete(name)
            except OSError:
                log.warning("could not delete %s", name, exc_info=True)

    transaction.on_commit(delete)


def _files_of_uploads(upload_ids: list[Any]) -> list[tuple[Any, str]]:
    upload_storage = Upload.image.field.storage
    result_storage = Result.image.field.storage
    names = [
        (result_storage, name)
        for name in Result.objects.filter(job__upload_id__in=upload_ids).values_list(
            "image", flat=True
        )
        if name
    ]
    names += [
        (upload_storage, name)
        for row in Upload.objects.filter(pk__in=upload_ids).values_list("image", "rendition")
        for name in row
        if name
    ]
    return names


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
        _delete_files_on_commit(_files_of_uploads(upload_ids))
        Upload.objects.filter(pk__in=upload_ids).delete()  # jobs and results cascade
        Batch.objects.filter(pk__in=batch_ids, uploads__isnull=True).delete()
    log.info("purged %d expired upload(s)", len(upload_ids))
    return len(upload_ids)


# --- Owners' actions: delete, publish ---------------------------------------------------------


def job_delete(*, job: Job) -> None:
    """Delete a job and its result file; the original too when no other job uses it, and the
    batch when nothing is left in it."""
    with transaction.atomic():
        upload_id, batch_id = job.upload_id, job.batch_id
        names = [
            (Result.image.field.storage, name)
            for name in Result.objects.filter(job_id=job.pk).values_list("image", flat=True)
            if name
        ]
        Job.objects.filter(pk=job.pk).delete()
        if not Job.objects.filter(upload_id=upload_id).exists():
            names += _files_of_uploads([upload_id])
            Upload.objects.filter(pk=upload_id).delete()
        if not Upload.objects.filter(batch_id=batch_id).exists():
            Batch.objects.filter(pk=batch_id).delete()
        _delete_files_on_commit(names)


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


# --- Quotas -----------------------------------------------------------------------------------

QUOTA_WINDOW = timedelta(hours=24)


def _refuse_suspended(owner: Any) -> None:
    # Suspended accounts are inactive, so sessions and tokens already fail; this keeps any other
    # path (a shell, a future view) from queueing work for them.
    if owner is not None and not owner.is_active:
        raise SubmissionError("This account is suspended: it cannot send photos.")


def full_quota(owner: Any) -> bool:
    """Whether an account has the account quota: staff, and accounts that verified their email
    address (the accounts app grants them this permission); others have the anonymous one."""
    return bool(owner.is_staff or owner.has_perm("colorize.full_daily_quota"))


def quota_limit(*, owner: Any) -> int:
    """Jobs allowed per rolling 24 hours for an account (owner) or an anonymous client; 0: none."""
    if owner is not None and full_quota(owner):
        return settings.COLORIA_DAILY_JOBS_PER_USER
    return settings.COLORIA_DAILY_JOBS_PER_ANONYMOUS


def quota_client(*, owner: Any, address: str = "", session_key: str = "") -> str:
    """The ledger key of an anonymous client: a keyed hash of its address, or of its session
    when the address is unknown (addresses are personal data: never stored as such).

    "" for accounts (counted by owner) and for internal callers that know neither."""
    if owner is not None:
        return ""
    identity = f"address:{address}" if address else f"session:{session_key}" if session_key else ""
    if not identity:
        return ""
    return salted_hmac("coloria.quota", identity, algorithm="sha256").hexdigest()


def _usage(*, owner: Any, client: str, since: datetime) -> Any:
    rows = Usage.objects.filter(created_at__gt=since)
    if owner is not None:
        return rows.filter(owner=owner)
    return rows.filter(owner__isnull=True, client=client)


@dataclass(frozen=True)
class QuotaStatus:
    limit: int  # 0: no quota
    used: int

    @property
    def remaining(self) -> int | None:
        return None if not self.limit else max(0, self.limit - self.used)


def quota_status(
    *, owner: Any = None, client: str = "", now: datetime | None = None
) -> QuotaStatus:
    """How much of the daily quota an account (or anonymous client) has used."""
    now = now or timezone.now()
    used = _usage(owner=owner, client=client, since=now - QUOTA_WINDOW).aggregate(n=Sum("jobs"))
    return QuotaStatus(limit=quota_limit(owner=owner), used=used["n"] or 0)


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y, %H:%M %Z").lstrip("0")


def quota_check(*, owner: Any, client: str, jobs: int, now: datetime | None = None) -> None:
    """Raise QuotaExceeded if `jobs` more jobs would go over the daily quota."""
    limit = quota_limit(owner=owner)
    if not limit or (owner is None and not client):
        return
    now = now or timezone.now()
    signup = "" if owner is not None else " Sign up for a free account to send more."
    if jobs > limit:
        raise QuotaExceeded(
            f"This asks for {jobs} jobs (photos × models), more than the daily limit of {limit}. "
            f"Send fewer photos or choose one model.{signup}",
            retry_after=None,
        )
    rows = list(
        _usage(owner=owner, client=client, since=now - QUOTA_WINDOW)
        .order_by("created_at")
        .values_list("created_at", "jobs")
    )
    used = sum(count for _, count in rows)
    if used + jobs <= limit:
        return
    # The moment enough of the window's usage has aged out for this request to fit.
    excess, freed, free_at = used + jobs - limit, 0, now + QUOTA_WINDOW
    for created_at, count in rows:
        freed += count
        if freed >= excess:
            free_at = created_at + QUOTA_WINDOW
            break
    if owner is None:
        who = "Without an account, one address"
    elif full_quota(owner):
        who = "Your account"
    else:
        who = "Until it verifies its email address (the link we sent), your account"
        signup = (
            f" Verified accounts may queue {settings.COLORIA_DAILY_JOBS_PER_USER}: ask for a "
            "new link on your account page."
        )
    raise QuotaExceeded(
        f"Daily limit reached. {who} may queue {limit} jobs (one photo through one model) per "
        f"24 hours; {used} are used and this needs {jobs}. Try again after {_when(free_at)}."
        f"{signup}",
        retry_after=max(1, math.ceil((free_at - now).total_seconds())),
    )


def _quota_charge(*, owner: Any, client: str, jobs: int) -> None:
    """Record the jobs (inside the caller's transaction), checking again under it: another
    request may have used the quota since the first check."""
    if owner is None and not client:
        return
    if owner is not None:
        # Serialises one account's concurrent submissions on PostgreSQL (SQLite's immediate
        # transactions already do); anonymous clients may overshoot by one submission.
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    quota_check(owner=owner, client=client, jobs=jobs)
    Usage.objects.create(owner=owner, client=client, jobs=jobs)


def purge_old_usage(now: datetime | None = None) -> int:
    """Forget quota usage older than the window (run with the expiry schedule)."""
    deleted, _ = Usage.objects.filter(
        created_at__lte=(now or timezone.now()) - QUOTA_WINDOW
    ).delete()
    return deleted


# --- Moderation (staff, from the admin) -----------------------------------------------------


class ModerationError(Exception):
    """A moderation action was refused; the message says why, for the moderator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
        _notify_finished(job)
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
        _delete_files_on_commit(_files_of_uploads([upload.pk]))
        Upload.objects.filter(pk=upload.pk).delete()  # jobs and results cascade
        Batch.objects.filter(pk=upload.batch_id, uploads__isnull=True).delete()


# --- Accounts going away ----------------------------------------------------------------------


def owner_content_delete(*, owner: Any) -> int:
    """Delete everything a user sent: batches, photos, jobs, results, and their files (once the
    transaction commits). Returns the number of photos deleted."""
    with transaction.atomic():
        upload_ids = list(Upload.objects.filter(owner=owner).values_list("pk", flat=True))
        _delete_files_on_commit(_files_of_uploads(upload_ids))
        Job.objects.filter(owner=owner).delete()
        Upload.objects.filter(pk__in=upload_ids).delete()
        Batch.objects.filter(owner=owner).delete()
    return len(upload_ids)
