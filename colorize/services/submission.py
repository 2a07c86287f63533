"""Where an upload becomes a job: checking what a person sent, storing it, queueing one job per
(image, model run), and the model the upload form preselects."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image

import ml
from ml.color import gray_image, mean_chroma, open_image, to_gray
from ml.errors import ColorizeError
from ml.registry import hint_points, params_as_json
from ml.weights import is_installed

from .. import callbacks, queues
from ..models import Batch, Job, Kind, Upload
from ..selectors import catalogue
from . import films
from .errors import SubmissionError
from .quotas import quota_charge, quota_check, quota_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcceptedFormat:
    extension: str  # what a stored original is named with
    mime_types: tuple[str, ...]  # what browsers report for such a file
    label: str  # what people call it


# By PIL's format name. Formats outside this list are refused even if PIL reads them; the upload
# page's checks and help text come from here too (views pass them to the page).
ACCEPTED_FORMATS = {
    "JPEG": AcceptedFormat("jpg", ("image/jpeg",), "JPEG"),
    "PNG": AcceptedFormat("png", ("image/png",), "PNG"),
    "WEBP": AcceptedFormat("webp", ("image/webp",), "WebP"),
    "BMP": AcceptedFormat("bmp", ("image/bmp", "image/x-ms-bmp"), "BMP"),
    "TIFF": AcceptedFormat("tif", ("image/tiff",), "TIFF"),
}


def accepted_formats_text() -> str:
    """'JPEG, PNG, WebP, BMP or TIFF'."""
    labels = [accepted.label for accepted in ACCEPTED_FORMATS.values()]
    return f"{', '.join(labels[:-1])} or {labels[-1]}"


def accepted_mime_types() -> list[str]:
    return [mime for accepted in ACCEPTED_FORMATS.values() for mime in accepted.mime_types]


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
                    f"Use {accepted_formats_text()}."
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
            if probe.getexif().get(0x0112) in (5, 6, 7, 8):  # shown turned a quarter
                width, height = height, width
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
    models = catalogue.current()
    return [spec.key for spec in models.models if models.is_installed(spec.key)]


def default_model_key() -> str | None:
    """The model preselected on the upload form, so that a visit starts without choosing.

    COLORIA_DEFAULT_MODEL when installed; else the shipped model with the best validation figures
    among those that clear the "better than grey" bar (ml.cards); else the first installed model
    that is not a shipped model failing that bar (official weights); else the shipped model
    closest to the true colours, which the site then labels experimental (never hidden). None
    only when no model that needs just a photo is installed.
    """
    # A model that needs more than a photo (strokes, a reference) cannot start a visit.
    keys = [key for key in available_model_keys() if not ml.get_spec(key).missing_required({})]
    models = catalogue.current()
    for preferred in (settings.COLORIA_DEFAULT_MODEL, models.recommended):
        if preferred in keys:
            return preferred
    failing = {card.model: card for card in models.cards if not card.clears_the_bar}
    unproven = next((key for key in keys if key not in failing), None)
    if unproven or not keys:
        return unproven
    return min(keys, key=lambda key: failing[key].validation.get("delta_e00", float("inf")))


def _check_reference(model_keys: list[str], model_key: str, has_reference: bool) -> None:
    """A reference photo goes with the model that borrows its colours, and that one needs it."""
    takers = [key for key in model_keys if ml.get_spec(key).needs_reference]
    if has_reference and not takers:
        raise SubmissionError(
            f"{ml.get_spec(model_keys[0]).name} does not use a reference photo: choose "
            "“Colours from a reference photo”, or remove the reference.",
            field="reference",
        )
    if takers and not has_reference and model_key != Batch.ALL_MODELS:
        raise SubmissionError(
            f"{ml.get_spec(takers[0]).name} needs a reference photo: add a colour photo of the "
            "same kind of scene.",
            field="reference",
        )


def _models_for(model_key: str, image_count: int) -> list[str]:
    if model_key == Batch.ALL_MODELS:
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
        # Visitors get no shell command: installing weights is the administrator's (README).
        raise SubmissionError(
            f"{spec.name} is not installed on this site: choose another model (the site's "
            "administrator can install it).",
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
    reference: UploadedFile | None = None,
    refused: list[str] | None = None,
) -> Batch:
    """Validate, store and queue a submission (a film: colorize.services.films), all or nothing:
    a refusal stores nothing and uses no quota. `callback_url`: called when each job ends;
    `client_address`: an anonymous client's quota key; `reference`: the colour photo a model
    borrows from. With `refused`, an unreadable photo among good ones is left out, its reason
    appended there (the site does this; the API refuses the whole request)."""
    owner = owner if getattr(owner, "is_authenticated", False) else None
    refuse_suspended(owner)
    _check_request(files, callback_url)
    if any(films.looks_like_film(upload) for upload in files):  # checked as a film, not a photo
        film = {"owner": owner, "session_key": session_key, "reference": reference}
        return films.film_submit(
            files=files, model_key=model_key, params=params or {}, **film,
            callback_url=callback_url, client_address=client_address,
        )  # fmt: skip
    model_keys = _models_for(model_key, len(files))
    _check_reference(model_keys, model_key, reference is not None)
    runs = _runs_per_model(model_key, model_keys, params or {}, has_reference=reference is not None)
    client = quota_client(owner=owner, address=client_address, session_key=session_key)
    job_count = len(files) * sum(len(model_runs) for model_runs in runs.values())
    quota_check(owner=owner, client=client, jobs=job_count)  # before reading every file
    checked = _readable_images(files, refused)
    job_count = job_count * len(checked) // len(files)  # the same runs for every photo
    reference_png = reference_copy(reference) if reference is not None else None
    for image in checked:
        for model_runs in runs.values():
            check_hints_inside(model_runs[0], image.width, image.height, image.name)
    stored: list[str] = []
    try:
        with transaction.atomic():
            # Charged with the rows it pays for: a submission that fails to store costs nothing.
            quota_charge(owner=owner, client=client, jobs=job_count)
            batch = Batch.objects.create(owner=owner, session_key=session_key, model_key=model_key)
            for image in checked:
                upload = _store_upload(batch, image, reference_png)
                stored.extend(name for name in (upload.image.name, upload.reference.name) if name)
                for key, model_runs in runs.items():
                    for run_params in model_runs:
                        job = Job.objects.create(
                            batch=batch, upload=upload, owner=owner, session_key=session_key,
                            model_key=key, params=jsonable(run_params),
                            callback_url=callback_url if owner else "",  # accounts only
                        )  # fmt: skip
                        transaction.on_commit(lambda job=job: enqueue_job(job.id, job.model_key))
    except Exception:
        _delete_stored(stored)  # the rows rolled back; do not leave their files behind
        raise
    return batch


def _delete_stored(names: list[str]) -> None:
    """Delete files a failed submission stored; a storage error must not hide the submission's
    own (it is logged, and the file left behind)."""
    for name in names:
        try:
            Upload.image.field.storage.delete(name)
        except Exception:
            log.warning("could not delete %s", name, exc_info=True)


def _check_request(files: list[UploadedFile], callback_url: str) -> None:
    if not files:
        raise SubmissionError("Choose at least one image.")
    if callback_url:
        try:
            callbacks.resolve_target(callback_url)
        except callbacks.RefusedTarget as exc:
            raise SubmissionError(str(exc), field="callback_url") from None
    if len(files) > settings.COLORIA_MAX_BATCH:
        raise SubmissionError(f"At most {settings.COLORIA_MAX_BATCH} images can be sent at once.")


def _runs_per_model(
    model_key: str, model_keys: list[str], params: dict[str, Any], *, has_reference: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Per model, the cleaned parameters of each job one photo gets (several for candidates).

    In "all models" mode each model takes the parameters it knows and its defaults otherwise;
    a parameter that none of them takes is a typo, and refused; a model that cannot run without
    a parameter the request leaves out (scribbles without strokes) is left out."""
    internal = {p.name for key in model_keys for p in ml.get_spec(key).params if p.internal}
    if set(params) & internal:
        raise SubmissionError(
            f"These parameters are set by Coloria: {', '.join(sorted(set(params) & internal))}.",
            field="params",
        )
    if model_key == Batch.ALL_MODELS and params:
        known = {param.name for key in model_keys for param in ml.get_spec(key).params}
        if unknown := sorted(set(params) - known):
            raise SubmissionError(
                f"None of the models takes the parameter(s): {', '.join(unknown)}.", field="params"
            )
    runs = {}
    for key in model_keys:
        spec = ml.get_spec(key)
        raw = params
        if model_key == Batch.ALL_MODELS:
            raw = {name: value for name, value in params.items() if name in spec.param_names}
            if spec.missing_required(raw, reference=has_reference):
                continue
        try:
            runs[key] = spec.runs(spec.clean_params(raw))
        except ColorizeError as exc:
            raise SubmissionError(str(exc), field="params") from None
    if not runs:  # "all models", and the only installed ones need strokes or a reference
        raise SubmissionError("No model that colorizes a photo on its own is installed yet.",
                              field="model")  # fmt: skip
    return runs


def _readable_images(files: list[UploadedFile], refused: list[str] | None) -> list[CheckedImage]:
    """Every file checked, every refused one named at once (not one per attempt). Without a
    `refused` list, or when nothing is readable, any refusal refuses them all; with one, the
    reasons are appended to it and the readable photos go on."""
    checked, problems = [], []
    for upload in files:
        try:
            checked.append(check_image(upload))
        except SubmissionError as exc:
            problems.append(exc.message)
    if problems and (refused is None or not checked):
        raise SubmissionError(" ".join(problems))
    if refused is not None:
        refused.extend(problems)
    return checked


# A reference lends colours, which need little resolution: it is kept at most this large.
REFERENCE_PIXELS = 1_000_000


def reference_copy(reference: UploadedFile) -> bytes:
    """A checked reference photo as the PNG kept with each photo: turned upright, at most
    REFERENCE_PIXELS, with no metadata (it may come from a phone, with a location)."""
    try:
        checked = check_image(reference)
    except SubmissionError as exc:
        raise SubmissionError(f"The reference photo: {exc.message}", field="reference") from None
    image = open_image(checked.content)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = gray_image(to_gray(image))
    image = image.convert("RGB")
    scale = min(1.0, (REFERENCE_PIXELS / (image.width * image.height)) ** 0.5)
    if scale < 1.0:
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if mean_chroma(image) < 2.0:
        raise SubmissionError(
            f"The reference {checked.name} has no colour: use a colour photo.", field="reference"
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _store_upload(batch: Batch, image: CheckedImage, reference_png: bytes | None = None) -> Upload:
    upload = Upload(
        batch=batch, owner=batch.owner, session_key=batch.session_key,
        original_name=image.name, format=image.format, width=image.width,
        height=image.height, size_bytes=len(image.content), sha256=image.sha256,
    )  # fmt: skip
    extension = ACCEPTED_FORMATS[image.format].extension
    upload.image.save(f"upload.{extension}", ContentFile(image.content), save=False)
    if reference_png is not None:
        upload.reference.save("reference.png", ContentFile(reference_png), save=False)
    upload.save()
    return upload


def check_hints_inside(params: dict[str, Any], width: int, height: int, name: str) -> None:
    """Refuse colour hints that fall outside the photo (a mistake in the caller's coordinates)."""
    for x, y in hint_points(params.get("hints") or []):
        if not (0 <= x <= width and 0 <= y <= height):
            raise SubmissionError(
                f"A colour hint at ({x:g}, {y:g}) lies outside {name} ({width}×{height} pixels).",
                field="params",
            )


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return params_as_json(params)


def enqueue_job(job_id: uuid.UUID, model_key: str | None = None) -> None:
    """Hand a job to the django-q2 queue of its model's kind of worker (colorize.queues), or run
    it at once when COLORIA_SYNC_JOBS is set, noting when, for the sweeper
    (colorize.services.recovery). `model_key` saves a query when the caller knows it."""
    from django_q.tasks import async_task

    Job.objects.filter(pk=job_id).update(
        enqueued_at=timezone.now(), enqueue_count=F("enqueue_count") + 1
    )
    if model_key is None:
        model_key = Job.objects.filter(pk=job_id).values_list("model_key", flat=True).first()
    # A film's job is long (a frame at a time): it goes where the GPUs are, whatever its model.
    is_film = Job.objects.filter(pk=job_id, kind=Kind.VIDEO).exists()
    async_task(
        "colorize.tasks.run_job",
        str(job_id),
        task_name=f"colorize-{job_id}",
        hook="colorize.tasks.job_task_finished",
        sync=settings.COLORIA_SYNC_JOBS,
        cluster=queues.cluster_name(queues.GPU)
        if is_film
        else queues.cluster_for_model(model_key or ""),
    )


def refuse_suspended(owner: Any) -> None:
    # Suspended accounts are inactive, so sessions and tokens already fail; this keeps any other
    # path (a shell, a future view) from queueing work for them.
    if owner is not None and not owner.is_active:
        raise SubmissionError("This account is suspended: it cannot send photos.")
