"""Where a film becomes a job (issue #24): telling a film from a photo, checking it with
ml.video.probe (never through the photo decoder), storing it and queueing its one job.

A film is sent alone (one per submission, no photos beside it) to one model fit for film
(ml.video.video_models); its job runs in colorize.services.video.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

import ml
from ml.video import InvalidVideo, VideoInfo, probe, recommended_video_model
from ml.video.models import RECOMMENDED

from ..models import Batch, Job, Kind, Upload
from .errors import SubmissionError
from .quotas import quota_charge, quota_check, quota_client

# What a film is stored as, by the name it was sent with; anything else a browser calls video/*
# (or audio/*: a sound file sent by mistake is told so) is checked as a film and stored as MP4.
VIDEO_EXTENSIONS = ("mp4", "m4v", "mov", "webm", "avi", "mkv")
VIDEO_MIME_TYPES = (
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-msvideo",
    "video/avi",
    "video/x-matroska",
)
VIDEO_FORMATS_TEXT = "MP4, MOV, WebM, AVI or MKV"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def looks_like_film(upload: UploadedFile) -> bool:
    """Whether a file was sent as a film (by its name or the type its browser gave it)."""
    content_type = (getattr(upload, "content_type", "") or "").lower()
    return _extension(upload.name or "") in VIDEO_EXTENSIONS or content_type.startswith(
        ("video/", "audio/")
    )


def limits_text() -> str:
    """'up to 60 s, 1920 × 1080 and 200 MB' (the upload page's help)."""
    return (
        f"up to {settings.COLORIA_VIDEO_MAX_SECONDS} s, {settings.COLORIA_VIDEO_MAX_SIDE} × "
        f"{settings.COLORIA_VIDEO_MAX_SHORT_SIDE} and "
        f"{settings.COLORIA_VIDEO_MAX_BYTES // 1_048_576} MB"
    )


@dataclass(frozen=True)
class CheckedFilm:
    path: Path  # a temporary copy, deleted when the check's context ends
    name: str
    extension: str
    info: VideoInfo
    size: int
    sha256: str

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a player shows the film (a phone's upright film is turned)."""
        info = self.info
        turned = info.rotation % 180 == 90
        return (info.height, info.width) if turned else (info.width, info.height)


@contextlib.contextmanager
def checked_film(upload: UploadedFile) -> Iterator[CheckedFilm]:
    """Copy a sent film to a temporary file and probe it; SubmissionError naming the file and
    saying what is wrong (not a film, damaged, sound only, one frame, over a limit)."""
    name = (upload.name or "film")[-255:]
    max_bytes = settings.COLORIA_VIDEO_MAX_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise SubmissionError(
            f"{name} is {upload.size / 1_048_576:.0f} MB; films up to "
            f"{max_bytes // 1_048_576} MB can be colorized."
        )
    directory = Path(settings.COLORIA_VIDEO_WORK_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix="upload-", suffix=".film", dir=directory)
    path = Path(temp)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out:
            upload.seek(0)
            for chunk in upload.chunks():
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size == 0:
            raise SubmissionError(f"{name} is empty (0 bytes).")
        try:
            info = probe(path, max_seconds=settings.COLORIA_VIDEO_MAX_SECONDS,
                         max_side=settings.COLORIA_VIDEO_MAX_SIDE,
                         max_short_side=settings.COLORIA_VIDEO_MAX_SHORT_SIDE,
                         max_bytes=max_bytes)  # fmt: skip
        except InvalidVideo as exc:
            raise SubmissionError(f"{name}: {exc}") from None
        extension = _extension(name) if _extension(name) in VIDEO_EXTENSIONS else "mp4"
        yield CheckedFilm(path, name, extension, info, size, digest.hexdigest())
    finally:
        path.unlink(missing_ok=True)


def default_film_model() -> str | None:
    """The model a film starts with: DeOldify Video when installed (trained for steady colour),
    else the site's default model when it is fit for film, else the first fit one."""
    from .submission import available_model_keys, default_model_key

    recommended = recommended_video_model(available_model_keys())
    if recommended == RECOMMENDED:
        return recommended
    default = default_model_key()
    return default if default and ml.get_spec(default).video else recommended


def film_model(model_key: str) -> str:
    """The model a film goes to: one fit for film and installed, else a refusal saying which
    one to choose."""
    from .submission import available_model_keys

    suggestion = recommended_video_model(available_model_keys())
    hint = f" Choose {ml.get_spec(suggestion).name}." if suggestion else ""
    if model_key == Batch.ALL_MODELS:
        raise SubmissionError(
            f"“All models” compares models on one photo: choose one model for a film.{hint}",
            field="model",
        )
    from .submission import _models_for

    [key] = _models_for(model_key, 1)  # known and installed
    spec = ml.get_spec(key)
    if not spec.video:
        raise SubmissionError(f"{spec.name} cannot colorize a film.{hint}", field="model")
    return key


def film_submit(
    *,
    files: list[UploadedFile],
    model_key: str,
    params: dict[str, Any],
    owner: Any,
    session_key: str,
    callback_url: str,
    client_address: str,
    reference: UploadedFile | None,
) -> Batch:
    """job_submit for a film (it hands over once it sees one): all or nothing, like photos."""
    from .submission import _check_reference, _runs_per_model, enqueue_job, jsonable, reference_copy

    if len(files) != 1:
        raise SubmissionError("Send one film at a time, without photos beside it.")
    key = film_model(model_key)
    _check_reference([key], key, reference is not None)
    # One run: candidates (several runs of one photo to choose from) are for photos.
    runs = _runs_per_model(key, [key], params, has_reference=reference is not None)[key][:1]
    client = quota_client(owner=owner, address=client_address, session_key=session_key)
    quota_check(owner=owner, client=client, jobs=len(runs))
    reference_png = reference_copy(reference) if reference is not None else None
    with checked_film(files[0]) as film:
        stored: list[str] = []
        try:
            with transaction.atomic():
                quota_charge(owner=owner, client=client, jobs=len(runs))
                batch = Batch.objects.create(owner=owner, session_key=session_key, model_key=key)
                upload = _store_film(batch, film, reference_png)
                stored.extend(name for name in (upload.image.name, upload.reference.name) if name)
                for run_params in runs:
                    job = Job.objects.create(
                        batch=batch, upload=upload, owner=owner, session_key=session_key,
                        model_key=key, kind=Kind.VIDEO, params=jsonable(run_params),
                        callback_url=callback_url if owner else "",
                    )  # fmt: skip
                    transaction.on_commit(lambda job=job: enqueue_job(job.id, job.model_key))
        except Exception:
            from .submission import _delete_stored

            _delete_stored(stored)
            raise
    return batch


def _store_film(batch: Batch, film: CheckedFilm, reference_png: bytes | None) -> Upload:
    from django.core.files.base import ContentFile

    width, height = film.display_size
    upload = Upload(
        batch=batch, owner=batch.owner, session_key=batch.session_key, kind=Kind.VIDEO,
        original_name=film.name, format=film.extension.upper(), width=width, height=height,
        frames=film.info.frames, duration=film.info.duration, size_bytes=film.size,
        sha256=film.sha256,
    )  # fmt: skip
    with open(film.path, "rb") as content:
        upload.image.save(f"film.{film.extension}", File(content), save=False)
    if reference_png is not None:
        upload.reference.save("reference.png", ContentFile(reference_png), save=False)
    upload.save()
    return upload


def work_dir(job_id: Any) -> Path:
    """Where a film's job keeps its frames between runs (colorize.services.video)."""
    return Path(settings.COLORIA_VIDEO_WORK_DIR) / f"job-{job_id}"


def delete_work_dirs(job_ids: list[Any]) -> None:
    """Delete the work folders of these jobs (those on this machine: a worker elsewhere keeps
    its own until its job succeeds)."""
    for job_id in job_ids:
        shutil.rmtree(work_dir(job_id), ignore_errors=True)


# A sent film's temporary copy left by a process killed while checking it goes after this long.
STALE_UPLOAD_SECONDS = 3600


def prune_work_dirs() -> int:
    """Delete the work folders on this machine whose job is gone or done, and stale temporary
    copies of sent films; how many. The web machine deletes a job's folder with its job, but a
    worker on another machine keeps the folders of its films (run by the sweep, on every
    worker)."""
    import time

    root = Path(settings.COLORIA_VIDEO_WORK_DIR)
    if not root.is_dir():
        return 0
    folders = {path.name.removeprefix("job-"): path for path in root.glob("job-*")}
    alive = Job.objects.filter(pk__in=_uuids(folders)).exclude(status=Job.Status.SUCCEEDED)
    keep = {str(pk) for pk in alive.values_list("pk", flat=True)}
    gone = [path for name, path in folders.items() if name not in keep]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    stale = [path for path in root.glob("upload-*.film") if path.stat().st_mtime < cutoff]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(gone) + len(stale)


def _uuids(names: Any) -> list[str]:
    import uuid

    valid = []
    for name in names:
        try:
            valid.append(str(uuid.UUID(name)))
        except ValueError:
            continue
    return valid
