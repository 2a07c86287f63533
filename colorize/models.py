"""Uploads, jobs and results. An upload is a stored original photo; a job is one model run on it;
a result is the colorized image a succeeded job produced."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


def _random_path(folder: str, extension: str) -> str:
    # Stored names are random: a client's filename never reaches the filesystem.
    now = timezone.now()
    return f"{folder}/{now:%Y/%m}/{uuid.uuid4().hex}.{extension}"


def original_path(instance: Upload, filename: str) -> str:
    return _random_path("originals", filename.rsplit(".", 1)[-1].lower())


def rendition_path(instance: Upload, filename: str) -> str:
    return _random_path("renditions", filename.rsplit(".", 1)[-1].lower())


def reference_path(instance: Upload, filename: str) -> str:
    return _random_path("references", "png")


# What a run may store: a photo's PNG, or a film's MP4 and its poster (colorize.services.video).
RESULT_EXTENSIONS = ("png", "mp4", "poster.jpg")


def run_result_name(
    job_id: uuid.UUID | str, run_token: uuid.UUID | str, extension: str = "png"
) -> str:
    """Where the run of a job holding `run_token` stores its result. Named by the run, not at
    random, so that a run whose worker was killed between storing its file and saving its row
    leaves a file the recovery of that run can find and delete (colorize.services.recovery)."""
    job_hex, token_hex = uuid.UUID(str(job_id)).hex, uuid.UUID(str(run_token)).hex
    return f"results/{job_hex[:2]}/{job_hex}-{token_hex}.{extension}"


def _result_extension(filename: str) -> str:
    return next((ext for ext in RESULT_EXTENSIONS[1:] if filename.endswith(f".{ext}")), "png")


def result_path(instance: Result, filename: str) -> str:
    token = instance.job.run_token if instance.job_id else None
    extension = _result_extension(filename)
    if token is None:  # a result made outside a worker's run (tests, imports)
        return _random_path("results", extension)
    return run_result_name(instance.job_id, token, extension)


class Kind(models.TextChoices):
    """What an upload is, and so what its jobs make: a photo (PNG) or a film (MP4)."""

    PHOTO = "photo", "Photo"
    VIDEO = "video", "Video"


class Batch(models.Model):
    """What one submission created: one or more uploads and their jobs."""

    # `model_key` of a submission that runs one photo through every installed model.
    ALL_MODELS = "all"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="batches",
    )
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    model_key = models.CharField(max_length=64)  # a registry key, or "all"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"batch {self.id} ({self.model_key})"


class Upload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="uploads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="uploads",
    )
    session_key = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.PHOTO)
    # The original: a photo, or a film (kind "video"; never decoded as a picture).
    image = models.FileField(upload_to=original_path, max_length=200)
    # The copy shown to anyone but the owner, and in browsers that cannot show the original
    # (TIFF): orientation applied, colour profile kept, no other metadata (colorize.downloads).
    rendition = models.FileField(upload_to=rendition_path, max_length=200, blank=True)
    # The colour photo whose colours the `reference` model borrows for this photo: a PNG copy at
    # most REFERENCE_PIXELS large, without metadata; it belongs to, and goes with, this upload.
    reference = models.FileField(upload_to=reference_path, max_length=200, blank=True)
    original_name = models.CharField(max_length=255, blank=True)  # shown to the owner only
    format = models.CharField(max_length=10)  # PIL's format name: JPEG, PNG, ...; a film's: MP4...
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # A film's frame count and length in seconds (ml.video.probe); 0 for a photo.
    frames = models.PositiveIntegerField(default=0)
    duration = models.FloatField(default=0)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Anonymous uploads are deleted (with their jobs and files) once this time has passed.
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.original_name or self.id} ({self.width}x{self.height})"


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="jobs")
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="jobs")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
    )
    session_key = models.CharField(max_length=40, blank=True)
    model_key = models.CharField(max_length=64)
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.PHOTO)  # its upload's
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)  # shown to the user: written to be read by people
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Liveness (colorize.services.recovery): the worker running the job claims it with a token
    # (only that run may finish it), names itself, and beats every few seconds; a job whose beat
    # stopped is re-queued once, then failed. enqueued_at / enqueue_count say when the broker
    # was last handed it, so that a job the broker lost is handed over again.
    run_token = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueue_count = models.PositiveSmallIntegerField(default=0)
    # Sharing: an owner may publish a succeeded job to the public gallery.
    published_at = models.DateTimeField(null=True, blank=True)
    # ...or give it an unlisted link, /s/<share_token>/, that works for anyone who has it
    # (colorize.services.sharing). Random and unguessable; revoking clears it, so the old link
    # answers 404 at once and a new one never repeats it.
    # NULL, not "", for "no link": unique allows any number of NULLs but only one "".
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # Moderation: a hidden job is out of the gallery and public view; its owner sees the reason.
    hidden_reason = models.CharField(max_length=500, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    # REST clients may ask to be told when the job ends (see the API).
    callback_url = models.URLField(max_length=500, blank=True)
    # A film's progress (colorize.services.video): frames done of all, and the worker's reckoning
    # of the seconds left (from its recent pace: frames a resumed run takes from its work folder
    # go faster than predicted ones). Written at most every COLORIA_VIDEO_PROGRESS_SECONDS.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_eta = models.FloatField(null=True, blank=True)
    # Seconds all runs of a film spent colorizing: a film runs in slices shorter than the task
    # time limit, each going on from the frames done, until COLORIA_VIDEO_MAX_RUN_SECONDS.
    progress_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"], name="job_owner_recent"),
            models.Index(fields=["session_key", "-queued_at"], name="job_session_recent"),
            models.Index(fields=["status", "queued_at"], name="job_status_queued"),
            models.Index(fields=["-published_at"], name="job_gallery"),
        ]

    def __str__(self) -> str:
        return f"job {self.id} {self.model_key} {self.status}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_stuck(self) -> bool:
        """Running, but its worker has not been heard from for a while (it died or hangs)."""
        if self.status != self.Status.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        lost_after = timedelta(seconds=settings.COLORIA_WORKER_LOST_SECONDS)
        return last is None or timezone.now() - last > lost_after

    @property
    def is_video(self) -> bool:
        return self.kind == Kind.VIDEO

    @property
    def has_result(self) -> bool:
        """Succeeded, with its result still stored (an image to show and download)."""
        return self.status == self.Status.SUCCEEDED and hasattr(self, "result")

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Result(models.Model):
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="result")
    image = models.FileField(upload_to=result_path, max_length=200)  # PNG, or a film's MP4
    # A film's first colorized frame (JPEG), shown before it plays; empty for a photo.
    poster = models.FileField(upload_to=result_path, max_length=200, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    # What the model chose by itself, e.g. {"imagenet_class": 979, "seed": 0} for BigColor.
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"result of {self.job_id}"


class Usage(models.Model):
    """The quota ledger: how many jobs a submission queued, for whom, and when.

    Counted from here rather than from Job rows, which owners delete and anonymous expiry purges
    within minutes: neither may give a quota back. Rows older than the window are purged.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Anonymous clients: a keyed hash of their address (or session), never the address itself.
    client = models.CharField(max_length=64, blank=True)
    jobs = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        # Granted to an account once it verified its email address (accounts.services); until
        # then it has the anonymous daily quota.
        permissions = [("full_daily_quota", "Queues the account daily quota (email verified)")]
        indexes = [
            models.Index(fields=["owner", "created_at"], name="usage_owner_recent"),
            models.Index(fields=["client", "created_at"], name="usage_client_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.jobs} job(s) at {self.created_at:%Y-%m-%d %H:%M}"


class ModerationAction(models.Model):
    """One moderator's decision: who did what to which thing, when and why. Append-only."""

    class Action(models.TextChoices):
        RERUN = "rerun", "Re-run"
        CANCEL = "cancel", "Cancel"
        HIDE = "hide", "Hide"
        UNHIDE = "unhide", "Unhide"
        DELETE = "delete", "Delete"
        SUSPEND = "suspend", "Suspend"
        REINSTATE = "reinstate", "Reinstate"

    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # the record stays if the moderator's account goes
        related_name="moderation_actions",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    target_type = models.CharField(max_length=20)  # "job", "upload", "user"
    target_id = models.CharField(max_length=64)
    # What the target was, readable after it is deleted; names no person (see subject_user).
    target_repr = models.CharField(max_length=200)
    # Whose content or account it was. Deleting that account clears this and so every trace of
    # who they were, while the moderators' record of what happened stays.
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.target_repr}"
