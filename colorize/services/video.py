"""Where a film's job becomes an MP4 (issue #24): what job_run hands a video job to.

The film is colorized by ml.video.colorize_video in a work folder of its own
(colorize.services.films.work_dir), whose frames outlive the run: a run stopped by a worker's
restart, a cancel or its time slice is followed by one that predicts only the frames not done.
A run lasts at most COLORIA_VIDEO_SLICE_SECONDS (below the task time limit); a film that needs
longer is queued again at the end of its slice, until its runs together pass
COLORIA_VIDEO_MAX_RUN_SECONDS. Progress and the check for a cancel touch the database at most
every COLORIA_VIDEO_PROGRESS_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db.models import F

import ml
from ml.errors import InvalidParameters
from ml.video import VideoCancelled, VideoTimeLimit, colorize_video

from ..models import Job, Result
from .films import work_dir

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The run ended without a result and the job is no longer its own: cancelled, or queued
    again to go on from the frames done (its slice of time is over)."""


class _Progress:
    """Frames done (written at most every COLORIA_VIDEO_PROGRESS_SECONDS, with the seconds left
    reckoned from the recent pace) and whether the job is still this run's (read as often)."""

    def __init__(self, job_id: Any, token: uuid.UUID) -> None:
        self.run = Job.objects.filter(pk=job_id, run_token=token, status=Job.Status.RUNNING)
        self.every = settings.COLORIA_VIDEO_PROGRESS_SECONDS
        self.written_at = self.checked_at = float("-inf")
        self.mark: tuple[float, int] | None = None  # (time, frames done) of the last write
        self.pace: float | None = None  # seconds a frame, smoothed
        self.gone = False
        self.furthest = 0  # frames done, the most this run reported

    def update(self, done: int, total: int) -> None:
        self.furthest = max(self.furthest, done)
        now = time.monotonic()
        if now - self.written_at < self.every and done < total:
            return
        if self.mark is not None and done > self.mark[1]:
            recent = (now - self.mark[0]) / (done - self.mark[1])
            self.pace = recent if self.pace is None else 0.7 * self.pace + 0.3 * recent
        eta = self.pace * (total - done) if self.pace is not None else None
        self.mark, self.written_at = (now, done), now
        if not self.run.update(progress_done=done, progress_total=total, progress_eta=eta):
            self.gone = True

    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self.gone and now - self.checked_at >= self.every:
            self.checked_at = now
            self.gone = not self.run.exists()
        return self.gone


def run_film(job: Job, token: uuid.UUID) -> Result:
    """The colorized film of a video job, its MP4 and poster stored (the row not yet saved).
    Raises Stopped (cancelled, or queued again for its next slice), VideoTimeLimit (over the
    site's limit for one film) and the ColorizeErrors of ml.video."""
    spent = job.progress_seconds
    left = settings.COLORIA_VIDEO_MAX_RUN_SECONDS - spent
    if left <= 0:
        raise _over_time()
    folder = work_dir(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    source = _local_original(job, folder)
    progress = _Progress(job.pk, token)
    film_slice = min(settings.COLORIA_VIDEO_SLICE_SECONDS, left)
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as files:
            reference = None
            if ml.get_spec(job.model_key).needs_reference:
                if not job.upload.reference:
                    raise InvalidParameters("The reference photo of this job has been deleted.")
                reference = files.enter_context(job.upload.reference.open("rb"))
            report = colorize_video(
                source, folder / "result.mp4", job.model_key, params=dict(job.params),
                reference=reference,
                work_dir=folder / "frames", on_progress=progress.update,
                should_cancel=progress.cancelled, max_seconds=film_slice,
                poster=folder / "poster.jpg", max_duration=settings.COLORIA_VIDEO_MAX_SECONDS,
                max_side=settings.COLORIA_VIDEO_MAX_SIDE,
                max_short_side=settings.COLORIA_VIDEO_MAX_SHORT_SIDE,
                max_bytes=settings.COLORIA_VIDEO_MAX_BYTES,
            )  # fmt: skip
    except VideoCancelled:
        raise Stopped from None
    except VideoTimeLimit:
        _add_time(job, token, time.monotonic() - started)
        over = spent + time.monotonic() - started >= settings.COLORIA_VIDEO_MAX_RUN_SECONDS
        if over or progress.furthest <= job.progress_done:  # no frame further: it never would
            raise _over_time() from None
        _continue_later(job, token)
        raise Stopped from None
    _add_time(job, token, time.monotonic() - started)
    return _stored_result(job, folder, report)


def _over_time() -> VideoTimeLimit:
    minutes = settings.COLORIA_VIDEO_MAX_RUN_SECONDS / 60
    return VideoTimeLimit(
        f"Colorizing this film took longer than this site allows ({minutes:.0f} min): try a "
        "shorter clip or a faster model."
    )


def _local_original(job: Job, folder: Path) -> Path:
    """The film as a local file (the storage may be a bucket), fetched once per work folder."""
    extension = job.upload.image.name.rsplit(".", 1)[-1]
    local = folder / f"original.{extension}"
    if not local.exists():
        partial = folder / f"original.{extension}.part"
        with job.upload.image.open("rb") as stored, open(partial, "wb") as out:
            shutil.copyfileobj(stored, out, 1 << 20)
        partial.replace(local)
    return local


def _add_time(job: Job, token: uuid.UUID, seconds: float) -> None:
    Job.objects.filter(pk=job.pk, run_token=token).update(
        progress_seconds=F("progress_seconds") + seconds
    )


def _continue_later(job: Job, token: uuid.UUID) -> None:
    """This run's slice is over: hand the job back (queued again, this run not counted as an
    attempt) for the next run to go on from the frames done. It keeps its `queued_at`, so a long
    film keeps its place in its owner's history instead of jumping to the top at every slice."""
    from .recovery import hand_back

    if hand_back(job.pk, token):
        log.info("job %s: film slice over; queued again to go on", job.pk)


def _stored_result(job: Job, folder: Path, report: Any) -> Result:
    details = {
        "frames": report.frames,
        "fps": report.fps,
        "seconds_per_frame": report.seconds_per_frame,
        "flicker": report.flicker,
        "smoothing": report.smoothing,
        "scene_cuts": len(report.scene_cuts),
        "resumed_from": report.resumed_from,
        "duration": report.info.duration,
        "has_audio": report.info.has_audio,
        "audio": report.details.get("audio"),
        "variable_frame_rate": report.info.variable_frame_rate,
        "device": report.details.get("device"),
    }
    result = Result(job=job, width=job.upload.width, height=job.upload.height, details=details)
    with open(folder / "result.mp4", "rb") as film:
        result.image.save("result.mp4", File(film), save=False)
    try:
        with open(folder / "poster.jpg", "rb") as poster:
            result.poster.save("result.poster.jpg", File(poster), save=False)
    except Exception:
        result.image.delete(save=False)
        raise
    return result


def finished(job_id: Any) -> None:
    """The film's job succeeded: its frames are not needed any more."""
    shutil.rmtree(work_dir(job_id), ignore_errors=True)
