"""Every file of a film's job Coloria serves (issue #24): the original film, the colorized MP4,
its poster, and thumbnails, for the site and the API alike.

Films are served with byte ranges (HTTP 206): browsers fetch an MP4's index and seek through
it by range, and a player without them cannot seek (so cannot keep two films in step). Behind
nginx the X-Accel-Redirect hand-off does the same (downloads.accel_path).

Privacy: the original film is served to its owner only (a phone's film may carry its place in
its metadata); anyone else who may see the job (a share link, the gallery) gets the result.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from PIL import Image

from ..models import Job
from .downloads import CACHE_PRIVATE, accel_path, download_stem, thumbnail, thumbnail_of_image

FILM_TYPES = {"mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime",
              "webm": "video/webm", "avi": "video/x-msvideo",
              "mkv": "video/x-matroska"}  # fmt: skip
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 16


def progress_text(job: Job) -> str:
    """'frame 412 of 1,500 · about 3 min left' for a running film; "" otherwise."""
    if not job.is_video or job.status != Job.Status.RUNNING or not job.progress_total:
        return ""
    text = f"frame {job.progress_done:,} of {job.progress_total:,}"
    if job.progress_eta is not None:
        text += f" · about {_duration(job.progress_eta)} left"
    return text


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def progress_json(job: Job) -> dict[str, Any]:
    """A job's kind and, for a film, its progress, for the status JSON the pages poll."""
    if not job.is_video:
        return {"kind": job.kind}
    return {
        "kind": job.kind,
        "progress": {"done": job.progress_done, "total": job.progress_total or job.upload.frames,
                     "seconds_left": job.progress_eta, "text": progress_text(job)},
    }  # fmt: skip


def film_file(job: Job, which: str, *, owner: bool) -> tuple[Any, str, str]:
    """(stored file, content type, download name) of a film job's "original", "result" or
    "poster"; Http404 when this viewer may not have it or it is not there."""
    if not job.is_video:
        raise Http404("This job is not a film.")
    stem = download_stem(job, owner=owner)
    if which == "original":
        if not owner:
            raise Http404("The original film is its owner's.")
        extension = job.upload.image.name.rsplit(".", 1)[-1].lower()
        return job.upload.image, FILM_TYPES.get(extension, "video/mp4"), f"{stem}.{extension}"
    if not job.has_result:
        raise Http404("This film is not colorized yet.")
    if which == "result":
        name = f"{stem}-colorized-{job.model_key}.mp4"
        return job.result.image, "video/mp4", name
    if which == "poster" and job.result.poster:
        return job.result.poster, "image/jpeg", f"{stem}-colorized-poster.jpg"
    raise Http404("No such file.")


def film_response(
    request: HttpRequest, file: Any, content_type: str, filename: str, *, attachment: bool
) -> HttpResponse:
    """A stored file, whole (200) or the one byte range asked for (206; 416 when outside it)."""
    if accel_path(file):
        response = HttpResponse(b"", content_type=content_type)
        response["X-Accel-Redirect"] = accel_path(file)
    else:
        size = file.size
        start, end = _byte_range(request.headers.get("Range", ""), size)
        if start is None:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        stream = file.open("rb")
        stream.seek(start)
        response = StreamingHttpResponse(
            _read(stream, end - start + 1), content_type=content_type,
            status=206 if (start, end) != (0, size - 1) or "Range" in request.headers else 200,
        )  # fmt: skip
        response["Content-Length"] = str(end - start + 1)
        if response.status_code == 206:
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(attachment, filename)
    response["Cache-Control"] = CACHE_PRIVATE
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _byte_range(header: str, size: int) -> tuple[int | None, int]:
    """The first byte and last byte (inclusive) to send: the whole file without a usable Range
    header (several ranges are answered whole); (None, 0) for a range outside the file."""
    match = _RANGE.match(header.strip())
    if not match or size == 0:
        return 0, max(size - 1, 0)
    first, last = match.groups()
    if not first:  # the last `last` bytes
        if not last:
            return 0, size - 1
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None, 0
    return start, end


def _read(stream: Any, length: int):
    try:
        while length > 0:
            chunk = stream.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        stream.close()


def first_frame(job: Job) -> Image.Image:
    """The original film's first frame (RGB), as a player shows it upright."""
    from ml.video import first_frame as film_first_frame

    with job.upload.image.open("rb") as stored:
        return film_first_frame(stored)


def film_thumbnail(job: Job, kind: str) -> bytes:
    """A film job's thumbnail: its poster for the result, the first frame for the original."""
    if kind == "result":
        return thumbnail(job.result.poster)
    return thumbnail_of_image(first_frame(job))
