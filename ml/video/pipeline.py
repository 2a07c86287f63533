"""`colorize_video`: a film through the photo colour pipeline, frame by frame, with steady colour.

Each decoded frame is reduced to its gray values (ml.color.to_gray), the model predicts chroma at
its working size (one frame per call: Coloria's predictors take one photo), the chroma is
smoothed over time (ml.video.temporal) and joined to the frame's own full-resolution lightness
(ml.color.compose), and the frame is encoded at its source time (ml.video.media).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from ml.color import Chroma, compose, open_image, rgb_to_lab, to_gray
from ml.errors import InvalidParameters
from ml.registry import ModelSpec, get_spec
from ml.video.errors import VideoCancelled, VideoTimeLimit
from ml.video.media import FilmReader, FilmWriter, upright
from ml.video.probe import MAX_BYTES, MAX_DURATION, MAX_SHORT_SIDE, MAX_SIDE, VideoInfo, probe
from ml.video.store import FrameStore, fingerprint
from ml.video.temporal import FlickerMeter, SceneCuts, Smoother

DEFAULT_SMOOTHING = 0.6
# Measured (ml.video.benchmark): on still and panning films the flow-compensated blend was no
# steadier than the plain one and no closer to the model's colour, for about 0.05 s more a frame.
DEFAULT_METHOD = "ema"
FLICKER_SIDE = 128  # flicker is measured on the output frames shrunk to this long side


@dataclass
class VideoReport:
    frames: int
    fps: float
    seconds: float  # wall-clock time of the whole job
    # Seconds per frame colorized in this run, model loaded (decoding, prediction, smoothing,
    # composing and encoding; resumed frames excluded).
    seconds_per_frame: float
    flicker: float | None  # mean |Δab| (CIE Lab) between consecutive output frames, cuts excluded
    smoothing: str  # "flow 0.6", "ema 0.6" or "off"
    scene_cuts: list[int]  # frames that start a new shot (smoothing starts again there)
    resumed_from: int  # frames taken from the work folder instead of predicted again
    details: dict[str, Any]
    poster: Image.Image | None = field(default=None, repr=False)  # the first colorized frame
    info: VideoInfo | None = field(default=None, repr=False)


@dataclass
class _Job:
    """What the frame loop needs, gathered once."""

    spec: ModelSpec
    params: dict[str, Any]
    smoother: Smoother
    store: FrameStore
    total: int
    started: float
    on_progress: Callable[[int, int], None] | None
    should_cancel: Callable[[], bool] | None
    max_seconds: float | None
    cuts: SceneCuts = field(default_factory=SceneCuts)
    meter: FlickerMeter = field(default_factory=FlickerMeter)
    chroma_meter: FlickerMeter = field(default_factory=FlickerMeter)  # on the model's chroma
    scene_cuts: list[int] = field(default_factory=list)
    predicted: int = 0
    poster: Image.Image | None = None
    space: str | None = None  # the model's chroma space, known from its first prediction
    loop_started: float = 0.0
    rotation: int = 0
    lag: float = 0.0  # sum over predicted frames of mean |smoothed - predicted chroma|


def colorize_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    model: str,
    *,
    params: dict[str, Any] | None = None,
    device: str | None = None,
    reference: Any = None,
    smoothing: float = DEFAULT_SMOOTHING,
    smoothing_method: str = DEFAULT_METHOD,
    work_dir: str | os.PathLike | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    max_seconds: float | None = None,
    poster: str | os.PathLike | BinaryIO | None = None,
    max_duration: float = MAX_DURATION,
    max_side: int = MAX_SIDE,
    max_short_side: int = MAX_SHORT_SIDE,
    max_bytes: int = MAX_BYTES,
) -> VideoReport:
    """Colorize the film `src` into the MP4 `dst` (written whole or not at all) with `model`.

    See the package docstring (ml.video) for every argument. Raises InvalidVideo,
    InvalidParameters, VideoCancelled, VideoTimeLimit and the other ColorizeErrors."""
    from ml import runtime

    started = time.monotonic()
    info = probe(src, max_seconds=max_duration, max_side=max_side,
                 max_short_side=max_short_side, max_bytes=max_bytes)  # fmt: skip
    spec, cleaned = _check_model(model, params, reference)
    try:
        smoother = Smoother(smoothing, smoothing_method)
    except ValueError as exc:
        raise InvalidParameters(f"Smoothing: {exc}.") from None
    settings = {name: value for name, value in cleaned.items() if name != "reference"}
    key = fingerprint(src, model=model, params=settings, smoothing=smoother.label,
                      reference=_reference_key(cleaned.get("reference")))  # fmt: skip
    job = _Job(spec, cleaned, smoother, FrameStore(work_dir, key), info.frames, started,
               on_progress, should_cancel, max_seconds, rotation=info.rotation)  # fmt: skip
    resumed_from = job.store.done
    part = Path(dst).with_name(Path(dst).name + ".part")
    with runtime.in_use(spec, device) as predictor:
        job.loop_started = time.monotonic()  # the model is loaded: frames from here on
        frames, audio = _run(src, part, info, job, predictor)
    os.replace(part, dst)
    if poster is not None and job.poster is not None:
        job.poster.save(poster, format="JPEG", quality=90)
    details = {"model": model, "device": runtime.resolve_device(device), "audio": audio,
               "predicted": job.predicted, "size": _size_note(info),
               "variable_frame_rate": info.variable_frame_rate,
               # How far smoothing moved the colour from the model's own, on average (the
               # model's chroma units): the price paid for steadiness (trailing colour).
               "lag": job.lag / job.predicted if job.predicted else None,
               # Flicker of the chroma itself (the model's units, its working size): the
               # model's part of the flicker, without the grain of the frames' lightness.
               "chroma_flicker": job.chroma_meter.value}  # fmt: skip
    return _report(job, info, frames, min(resumed_from, frames), details)


def _report(
    job: _Job, info: VideoInfo, frames: int, resumed_from: int, details: dict[str, Any]
) -> VideoReport:
    now = time.monotonic()
    worked = frames - resumed_from
    return VideoReport(
        frames=frames,
        fps=info.fps,
        seconds=now - job.started,
        seconds_per_frame=(now - job.loop_started) / worked if worked else 0.0,
        flicker=job.meter.value,
        smoothing=job.smoother.label,
        scene_cuts=job.scene_cuts,
        resumed_from=resumed_from,
        details=details,
        poster=job.poster,
        info=info,
    )


def _check_model(
    model: str, params: dict[str, Any] | None, reference: Any
) -> tuple[ModelSpec, dict[str, Any]]:
    spec = get_spec(model)
    if not spec.video:
        raise InvalidParameters(
            f"{spec.name} cannot colorize a film: it needs colours painted on each picture."
        )
    cleaned = spec.clean_params(params)
    if (reference is not None) != spec.needs_reference:
        raise InvalidParameters(
            f"{spec.name} needs a reference photo (one for the whole film)."
            if spec.needs_reference
            else f"{spec.name} does not take a reference photo."
        )
    if reference is not None:
        cleaned["reference"] = open_image(reference)
    return spec, cleaned


def _reference_key(reference: Image.Image | None) -> str | None:
    """The reference photo's pixels' hash: resumed frames must have borrowed the same colours."""
    if reference is None:
        return None
    import hashlib

    return hashlib.sha256(reference.convert("RGB").tobytes()).hexdigest()


def _size_note(info: VideoInfo) -> str:
    if info.width % 2 == 0 and info.height % 2 == 0:
        return f"{info.width} x {info.height}"
    width, height = info.width + info.width % 2, info.height + info.height % 2
    return (
        f"{info.width} x {info.height} padded to {width} x {height} (H.264 in yuv420p needs even "
        "sides; the last column or row is repeated)"
    )


def _run(src, part: Path, info: VideoInfo, job: _Job, predictor) -> tuple[int, str | None]:
    """Decode, colorize and encode every frame; the number of frames and what became of the
    sound. The partial output is deleted when anything goes wrong."""
    reader = FilmReader(src)
    writer = None
    try:
        writer = FilmWriter(part, reader, info.rate, not info.variable_frame_rate, info.rotation)
        index = -1
        for index, frame in enumerate(reader.frames(writer.add_audio)):
            _check_stop(job, index)
            rgb = _colorize_frame(frame, index, job, predictor)
            writer.add_frame(rgb, frame, index)
            if job.on_progress is not None:
                job.on_progress(index + 1, max(job.total, index + 1))
        writer.close()
        return index + 1, writer.audio_action
    except BaseException:
        if writer is not None:
            writer.abandon()
        part.unlink(missing_ok=True)
        raise
    finally:
        reader.close()


def _check_stop(job: _Job, index: int) -> None:
    if job.should_cancel is not None and job.should_cancel():
        raise VideoCancelled(f"Colorizing the film was cancelled at frame {index} of {job.total}.")
    elapsed = time.monotonic() - job.started
    if job.max_seconds is not None and elapsed > job.max_seconds:
        kept = " The frames done are kept: running it again continues." if job.store.folder else ""
        raise VideoTimeLimit(
            f"Colorizing the film took longer than {job.max_seconds:g} s; it stopped at frame "
            f"{index} of {job.total}.{kept}"
        )


def _colorize_frame(frame, index: int, job: _Job, predictor) -> np.ndarray:
    """The colorized frame (H, W, 3 uint8): stored chroma when a resumed run has it, else
    predicted and smoothed (and stored)."""
    gray = to_gray(Image.fromarray(frame.to_ndarray(format="rgb24")))
    cut = job.cuts.is_cut(gray)
    if cut:
        job.scene_cuts.append(index)
    stored = job.store.load(index)
    if stored is not None:
        job.smoother.carry(stored, gray)
        ab = stored
    else:
        chroma = _predict(predictor, job, gray)
        ab = job.smoother.step(chroma.ab, gray, cut)
        job.lag += float(np.abs(ab - chroma.ab).mean())
        job.store.save(index, ab)
        job.predicted += 1
    image = compose(gray, Chroma(ab=ab, space=_space(predictor, job, gray)))
    if index == 0:  # the poster, turned as a player shows the film
        job.poster = upright(image, job.rotation)
    job.meter.add(_small_ab(image), cut=cut)
    job.chroma_meter.add(ab, cut=cut)
    return np.asarray(image)


def _space(predictor, job: _Job, gray: np.ndarray) -> str:
    """The chroma space of the model (Lab or YUV), asked once with a tiny prediction when only
    stored chroma is used (a resumed run)."""
    if job.space is None:
        job.space = _predict(predictor, job, gray[:16, :16]).space
    return job.space


def _predict(predictor, job: _Job, gray: np.ndarray) -> Chroma:
    from ml import runtime

    chroma = runtime.predict(predictor, gray, job.params, name=job.spec.name, what="film")
    job.space = chroma.space
    return chroma


def _small_ab(image: Image.Image) -> np.ndarray:
    """The output frame's CIE a, b at FLICKER_SIDE pixels long (flicker needs no more)."""
    scale = min(1.0, FLICKER_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    return rgb_to_lab(small)[..., 1:]


def poster_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """A poster image (VideoReport.poster) as JPEG bytes, for the site."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
