"""Running one model over the photos: scores, time and peak memory, deterministically."""

from __future__ import annotations

import contextlib
import gc
import random
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ml import metrics, runtime
from ml.evaluate.photos import load_truth
from ml.evaluate.summary import GREY_BASELINE, SAMPLE_SIDE, ModelRun, Photo, Sample
from ml.registry import MAX_HINTS, get_spec

HINT_SHARE = 0.001  # models that need colour hints get the true colour at 0.1 % of the pixels


def _read_status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _PeakMemory:
    """Peak resident memory of this process while a model loads and colorizes.

    On Linux the kernel's high-water mark (VmHWM) is reset before each measured call (writing 5
    to /proc/self/clear_refs), so every model gets its own peak, unaffected by models before it
    and by the metric computations between calls. Elsewhere getrusage's ru_maxrss is used; it
    never goes down, so a model smaller than an earlier one shows no increase there.
    """

    def __init__(self, cuda_device: str | None) -> None:
        gc.collect()
        self.cuda_device = cuda_device
        self.start_kib = _read_status_kib("VmRSS") or self._maxrss_kib()
        self.peak_kib = 0
        self.can_reset = self._reset()
        if cuda_device:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(cuda_device)

    @staticmethod
    def _maxrss_kib() -> int:
        import resource  # Unix only, and only needed where /proc is missing

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
                clear.write("5")
        except OSError:
            return False
        return _read_status_kib("VmHWM") is not None

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        if self.can_reset:
            self._reset()
        try:
            yield
        finally:
            now = _read_status_kib("VmHWM") if self.can_reset else self._maxrss_kib()
            self.peak_kib = max(self.peak_kib, now or 0)

    def result(self) -> dict[str, Any]:
        cuda_peak = None
        if self.cuda_device:
            import torch

            cuda_peak = torch.cuda.max_memory_allocated(self.cuda_device) / 2**20
        return {
            "peak_rss_mb": self.peak_kib / 1024,
            "rss_increase_mb": max(0, self.peak_kib - self.start_kib) / 1024,
            "cuda_peak_mb": cuda_peak,
            "method": "VmHWM, reset per call" if self.can_reset else "ru_maxrss (never reset)",
        }


def seed_everything(seed: int) -> None:
    """Seed every generator a model might draw from, before each photo (order-independent)."""
    random.seed(seed)
    np.random.seed(seed)  # models written against numpy's legacy API draw from this one
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_torch() -> Iterator[None]:
    """cuDNN picks its fastest algorithm by timing, which can change results in the last bits."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def _thumbnail(array: np.ndarray) -> np.ndarray:
    image = Image.fromarray(array)
    image.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(image)


def run_model(
    key: str,
    photos: Sequence[Photo],
    *,
    device: str | None,
    seed: int,
    samples: int,
    progress: Any,
) -> ModelRun:
    """One model (or the grey baseline) over the photos: a row of scores and seconds per photo,
    the first `samples` as thumbnails, and the peak memory of loading and colorizing."""
    spec = None if key == GREY_BASELINE else get_spec(key)
    runtime.unload_all()
    resolved = runtime.resolve_device(device) if spec is not None else "cpu"
    memory = _PeakMemory("cuda" if resolved.startswith("cuda") else None)
    load_seconds = 0.0
    if spec is not None:
        # Loaded before the clock starts, so time per photo is inference alone.
        with memory.measure():
            start = time.perf_counter()
            runtime.load_predictor(spec, device)
            load_seconds = time.perf_counter() - start
    rows: list[dict[str, Any]] = []
    kept: list[Sample] = []
    progress.set_description(key)
    for index, photo in enumerate(photos):
        truth = load_truth(photo.path)
        gray = metrics.gray_version(truth)
        seed_everything(seed)
        params = guidance(spec, truth, seed) if spec is not None else {}
        with memory.measure():
            start = time.perf_counter()
            output = _colorize(key if spec is not None else None, gray, device, params)
            seconds = time.perf_counter() - start
        scores = metrics.score(output, truth)
        rows.append({"image": photo.name, "model": key, "width": truth.shape[1],
                     "height": truth.shape[0], **scores, "seconds": seconds})  # fmt: skip
        if index < samples:
            thumbnails = (_thumbnail(gray), _thumbnail(output), _thumbnail(truth))
            kept.append(Sample(photo.name, *thumbnails, scores["delta_e00"]))
        progress.update(1)
    result = memory.result()
    runtime.unload_all()  # free this model before the next one is measured
    return ModelRun(rows=rows, load_seconds=load_seconds, memory=result, samples=kept)


def guidance(spec: Any, truth: np.ndarray, seed: int) -> dict[str, Any]:
    """What a guided model is given besides the gray photo, since it cannot run without: colour
    hints from the truth (the scribbles), or the photo itself as its reference, mirrored and 20 %
    cropped (colours from a reference photo). Nothing for the other models."""
    if spec.needs_reference:
        height, width = truth.shape[:2]
        box = (width // 10, height // 10, width - width // 10, height - height // 10)
        return {"reference": Image.fromarray(truth[:, ::-1, :3]).crop(box)}
    return true_colour_hints(truth, seed) if spec.missing_required({}) else {}


def true_colour_hints(truth: np.ndarray, seed: int) -> dict[str, Any]:
    """The true colour at HINT_SHARE of the photo's pixels (at most MAX_HINTS), at places drawn
    with the run's seed, as a person who knew the colours might give them."""
    height, width = truth.shape[:2]
    count = max(1, min(MAX_HINTS, round(HINT_SHARE * height * width)))
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
    return {"hints": [(int(x), int(y), tuple(int(c) for c in truth[y, x, :3]))
                      for x, y in zip(xs, ys, strict=True)]}  # fmt: skip


def _colorize(
    model: str | None, gray: np.ndarray, device: str | None, params: dict[str, Any]
) -> np.ndarray:
    """RGB output for a gray photo: the model's, or neutral (a = b = 0) without one."""
    import ml

    if model is None:
        return metrics.colorize_neutral(gray)
    colorized = ml.colorize(Image.fromarray(gray, mode="L"), model=model, device=device, **params)
    return np.asarray(colorized.convert("RGB"))
