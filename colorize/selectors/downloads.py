"""Every image Coloria serves, for the site and the API alike: originals, results, JPEG copies,
thumbnails, share links' before/after previews and zips.

Privacy: an original is served byte for byte only to its owner. Anyone else (a published photo's
visitors, a share link's, staff) gets its web rendition: orientation applied, colour profile
kept, every other piece of metadata gone (EXIF with its GPS position and camera serial number,
XMP, IPTC, text chunks). The rendition also stands in for originals that browsers cannot show
(TIFF), and, like every JPEG copy and thumbnail, scales 16-bit and floating-point photos to 8
bits instead of clipping them.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from PIL import Image, ImageOps

from ..models import Job, Upload
from .access import is_public

# What browsers show in an <img> as it is; other originals are shown through their rendition.
WEB_FORMATS = {"JPEG", "PNG", "WEBP", "BMP"}
CACHE_PRIVATE = "private, max-age=3600"


def open_image(file, *, draft: int | None = None) -> Image.Image:
    """A stored image as people see it: EXIF orientation applied."""
    with file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        if draft:
            image.draft("RGB", (draft, draft))  # JPEG: decode at a smaller scale directly
        image.load()
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not stop a download
        return image


def to_8bit(image: Image.Image) -> Image.Image:
    """An RGB or RGBA image with 8-bit channels. 16-bit and 32-bit integer photos are scaled down
    (not clipped, which turns a 16-bit grey photo white) and floating-point ones scaled from
    [0, 1] (or [0, 255] when their values are larger)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        if image.mode == "F":
            top = 255.0 if values.max(initial=0) > 1.0 else 1.0
        else:
            top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255
        scaled = np.clip(np.nan_to_num(values) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def as_jpeg(file, *, quality: int = 92) -> bytes:
    """A stored image re-encoded as JPEG (full resolution, no metadata)."""
    image = to_8bit(open_image(file)).convert("RGB")
    return _encode(image, "JPEG", quality=quality, optimize=True)


def thumbnail(file, *, size: int = 480) -> bytes:
    """A small JPEG of a stored image, for lists and grids."""
    return thumbnail_of_image(to_8bit(open_image(file, draft=size)), size=size)


def thumbnail_of_image(image: Image.Image, *, size: int = 480) -> bytes:
    """A small JPEG of a picture (a film's first frame, say), for lists and grids."""
    image = image.convert("RGB")
    image.thumbnail((size, size))
    return _encode(image, "JPEG", quality=82)


def rendition_bytes(file, source_format: str) -> tuple[bytes, str]:
    """(bytes, extension) of an original's web rendition: orientation applied, 8-bit, the colour
    profile kept and nothing else of its metadata. JPEG stays JPEG; the rest becomes PNG."""
    source = open_image(file)
    profile = source.info.get("icc_profile")
    image = to_8bit(source)
    extra = {"icc_profile": profile} if profile else {}
    if source_format == "JPEG":
        return _encode(image.convert("RGB"), "JPEG", quality=95, **extra), "jpg"
    return _encode(image, "PNG", **extra), "png"


def web_original(upload: Upload):
    """The upload's web rendition (a stored file), made on first use."""
    if upload.rendition:
        return upload.rendition
    content, extension = rendition_bytes(upload.image, upload.format)
    name = upload.rendition.field.generate_filename(upload, f"rendition.{extension}")
    stored = upload.rendition.storage.save(name, ContentFile(content))
    # Two first requests at once may both make one: the first to record it wins.
    if Upload.objects.filter(pk=upload.pk, rendition="").update(rendition=stored):
        upload.rendition.name = stored
    else:
        upload.rendition.storage.delete(stored)
        upload.refresh_from_db(fields=["rendition"])
    return upload.rendition


def download_stem(job: Job, *, owner: bool) -> str:
    """The name a download is given: the original's name for its owner, a neutral one else."""
    stem = PurePath(job.upload.original_name).stem if owner else ""
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-.")
    return stem[:80] or f"coloria-{str(job.id)[:8]}"


@dataclass(frozen=True)
class Download:
    """What to send: a stored file or bytes, its type and its file name."""

    content: Any  # a FieldFile or bytes
    content_type: str
    filename: str

    def response(self, *, attachment: bool) -> HttpResponse:
        if isinstance(self.content, bytes):
            response = HttpResponse(self.content, content_type=self.content_type)
            # Django's helper writes non-ASCII names as filename*= (RFC 6266).
            response["Content-Disposition"] = content_disposition_header(attachment, self.filename)
        elif accel_path(self.content):
            # Behind nginx: the permission check passed (the caller found the job for this
            # viewer); nginx sends the file from its internal location, this process does not.
            response = HttpResponse(b"", content_type=self.content_type)
            response["Content-Disposition"] = content_disposition_header(attachment, self.filename)
            response["X-Accel-Redirect"] = accel_path(self.content)
        else:
            response = FileResponse(
                self.content.open("rb"),
                as_attachment=attachment,
                filename=self.filename,
                content_type=self.content_type,
            )
        response["Cache-Control"] = CACHE_PRIVATE
        response["X-Content-Type-Options"] = "nosniff"
        return response


def accel_path(file: Any) -> str:
    """The X-Accel-Redirect target of a stored file (COLORIA_ACCEL_REDIRECT_PREFIX + its name,
    quoted), or "" when hand-offs are off or the file is not on the local disk that nginx sees
    (object storage serves its files through the storage itself)."""
    prefix = settings.COLORIA_ACCEL_REDIRECT_PREFIX
    storage = getattr(file, "storage", None)
    if not prefix or not isinstance(storage, FileSystemStorage) or not file.name:
        return ""
    return prefix.rstrip("/") + "/" + quote(file.name.lstrip("/"))


_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                  "bmp": "image/bmp", "tif": "image/tiff"}  # fmt: skip


def original(job: Job, *, owner: bool, image_format: str = "", as_sent: bool = False) -> Download:
    """A job's original: as sent to its owner when they download it (`as_sent`) or when browsers
    can show it; the metadata-free web rendition otherwise; `image_format="jpeg"` a JPEG copy."""
    upload = job.upload
    stem = download_stem(job, owner=owner)
    if job.is_video:  # a film: its owner's only (colorize.selectors.films)
        from .films import film_file

        return Download(*film_file(job, "original", owner=owner))
    if image_format == "jpeg":  # re-encoded: no metadata, whoever asks
        return Download(as_jpeg(upload.image), "image/jpeg", f"{stem}.jpg")
    if owner and (as_sent or upload.format in WEB_FORMATS):
        extension = upload.image.name.rsplit(".", 1)[-1]
        return Download(upload.image, _CONTENT_TYPES.get(extension, ""), f"{stem}.{extension}")
    rendition = web_original(upload)
    extension = rendition.name.rsplit(".", 1)[-1]
    return Download(rendition, _CONTENT_TYPES[extension], f"{stem}.{extension}")


def result(job: Job, *, owner: bool, image_format: str = "") -> Download:
    """A job's colorized result: the stored PNG, or a JPEG copy."""
    name = f"{download_stem(job, owner=owner)}-colorized-{job.model_key}"
    if job.is_video:  # a film: its MP4, and its poster as "the JPEG"
        if image_format == "jpeg":
            return Download(job.result.poster, "image/jpeg", f"{name}.jpg")
        return Download(job.result.image, "video/mp4", f"{name}.mp4")
    if image_format == "jpeg":
        return Download(as_jpeg(job.result.image), "image/jpeg", f"{name}.jpg")
    return Download(job.result.image, "image/png", f"{name}.png")


def reference(job: Job, *, owner: bool) -> Download:
    """The reference photo a job borrowed its colours from (a PNG kept without metadata)."""
    if not job.upload.reference:
        raise Http404("This job has no reference photo.")
    name = f"{download_stem(job, owner=owner)}-reference.png"
    return Download(job.upload.reference, "image/png", name)


def thumbnail_cache_control(job: Job) -> str:
    """A published photo's thumbnails are the gallery's, the same for everyone: shared caches (a
    CDN, the proxy) may keep them for COLORIA_PUBLIC_CACHE_SECONDS. Every other is private."""
    seconds = settings.COLORIA_PUBLIC_CACHE_SECONDS
    return f"public, max-age={seconds}" if seconds and is_public(job) else CACHE_PRIVATE


def thumbnail_of(job: Job, kind: str) -> bytes:
    """The thumbnail of a job's original or result (re-encoded: it carries no metadata)."""
    if job.is_video:  # a film's poster, or its first frame
        from .films import film_thumbnail

        return film_thumbnail(job, kind)
    return thumbnail(job.result.image if kind == "result" else job.upload.image)


# A side-by-side download holds two copies of the photo: it is scaled down to at most this many
# pixels, so that a 40-megapixel scan makes a file people can still open and post.
SIDE_BY_SIDE_PIXELS = 24_000_000


def _before_beside_after(
    job: Job, *, max_pixels: float = float("inf"), box: tuple[int, int] | None = None,
    gap: bool = True,
) -> Image.Image:  # fmt: skip
    """The original (upright, 8-bit) on the left of its result, both at the result's size,
    scaled down to fit `max_pixels` and `box`; with `gap`, a thin white line between them.
    Re-encoded pixels only: none of the original's metadata goes with them."""
    draft = max(box) if box else None
    if job.is_video:  # a film: its first frame, before and after
        from .films import first_frame

        after = to_8bit(open_image(job.result.poster, draft=draft)).convert("RGB")
        before = first_frame(job).resize(after.size)
    else:
        after = to_8bit(open_image(job.result.image, draft=draft)).convert("RGB")
        before = to_8bit(open_image(job.upload.image, draft=draft)).convert("RGB")
    width, height = after.size
    gap_px = max(4, width // 100) if gap else 0
    scale = min(1.0, (max_pixels / ((2 * width + gap_px) * height)) ** 0.5)
    if box:
        scale = min(scale, box[0] / (2 * width + gap_px), box[1] / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    before = before.resize(size, Image.Resampling.LANCZOS)
    after = after.resize(size, Image.Resampling.LANCZOS) if size != after.size else after
    gap_px = max(4, size[0] // 100) if gap else 0
    both = Image.new("RGB", (2 * size[0] + gap_px, size[1]), "white")
    both.paste(before, (0, 0))
    both.paste(after, (size[0] + gap_px, 0))
    return both


def side_by_side(job: Job, *, owner: bool) -> Download:
    """One JPEG with the original on the left and the result on the right, to download or post
    as one picture."""
    both = _before_beside_after(job, max_pixels=SIDE_BY_SIDE_PIXELS)
    name = f"{download_stem(job, owner=owner)}-before-after-{job.model_key}.jpg"
    return Download(_encode(both, "JPEG", quality=90, optimize=True), "image/jpeg", name)


def before_after(job: Job, *, width: int = 1200, height: int = 630) -> bytes:
    """A JPEG of the original beside its colorized result, at most `width` × `height` (the size
    link previews show), for a share link's Open Graph image."""
    both = _before_beside_after(job, box=(width, height), gap=False)
    return _encode(both, "JPEG", quality=85, optimize=True)


def batch_zip(jobs: list[Job]):
    """A zip of the batch's colorized results (PNG); a temporary file, rewound."""
    archive = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
    used: set[str] = set()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as bundle:
        for job in jobs:
            if not job.has_result:
                continue
            base = f"{download_stem(job, owner=True)}-{job.model_key}"
            extension = "mp4" if job.is_video else "png"
            name, counter = f"{base}.{extension}", 2
            while name in used:
                name, counter = f"{base}-{counter}.{extension}", counter + 1
            used.add(name)
            with job.result.image.open("rb") as handle:
                bundle.writestr(name, handle.read())
    archive.seek(0)
    return archive
