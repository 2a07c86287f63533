"""Score colorization models on colour photos: the study's ΔE00 comparison, made repeatable.

Each colour photo (EXIF-oriented RGB) is the ground truth. Its 8-bit gray version
(`ml.metrics.gray_version`) goes through `ml.colorize` exactly as an upload would, and the output
is scored against the original at full resolution with every metric in `ml.metrics.METRICS`.
The "leave it grey" baseline (a = b = 0) is always scored as the pseudo-model `grey-baseline`,
because ΔE00 rewards dull output and a model is only useful where it beats grey.

    python -m ml.evaluate --models zhang-eccv16 zhang-siggraph17 --images photos/ --out eval/
    python -m ml.evaluate --all-installed --photo-set data/photos --out eval/ --limit 100
    python -m ml.evaluate --checkpoint-model study-cnn --checkpoints runs/epoch_*.pth \\
        --images photos/ --out eval-epochs/

Writes to the output folder:

* per_image.csv: one row per photo and model, every metric and the seconds colorizing took;
* summary.json and summary.md: mean, median and 95 % bootstrap interval per metric and model,
  the paired difference from the grey baseline, time per image and peak memory per model;
* plots/<metric>.png: a bar per model with the bootstrap interval as error bars;
* samples/<model>.png: gray input | output | original for the first photos;
* epochs.csv and epochs.png when checkpoints are given: ΔE00 per checkpoint (the study's fig. 6).

Metric numbers are deterministic (same photos, models and seed: same numbers); times and memory
are measurements and vary from run to run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml import config, metrics, runtime
from ml.color import open_image
from ml.errors import ColorizeError, InvalidImage, WeightsNotInstalled, os_error_message
from ml.registry import all_specs, get_spec
from ml.weights import KNOWN_WEIGHTS, is_installed

GREY_BASELINE = "grey-baseline"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
BOOTSTRAP_RESAMPLES = 1000
CI_PERCENTILES = (2.5, 97.5)
SAMPLE_SIDE = 256  # longest side of the thumbnails in samples/<model>.png
SUMMARY_FORMAT = 1  # bump when summary.json changes shape; the web pages read it


class EvaluationError(ValueError):
    """The evaluation cannot run as asked (no photos, bad options); the message says why."""


@dataclass(frozen=True)
class Photo:
    """A colour photo to evaluate on; `name` is how tables show it (relative to its folder)."""

    path: Path
    name: str


@dataclass(frozen=True)
class Stats:
    """A metric over the photos: mean, median and 95 % bootstrap interval of the mean."""

    mean: float
    median: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class ModelSummary:
    key: str
    name: str
    metrics: dict[str, Stats]
    vs_grey: dict[str, Stats]  # per-photo (model - grey baseline), summarised the same way
    timing: dict[str, float]
    memory: dict[str, Any]


@dataclass
class EpochSummary:
    epoch: int
    checkpoint: str
    metrics: dict[str, Stats]
    vs_grey: dict[str, Stats]


@dataclass
class Summary:
    """What `evaluate` found; `to_dict()` is what summary.json holds."""

    out_dir: Path
    source: str
    images: list[str]
    skipped: list[dict[str, str]]
    device: str
    seed: int
    models: dict[str, ModelSummary]
    checkpoint_model: str | None = None
    epochs: list[EpochSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _finite(
            {
                "format": SUMMARY_FORMAT,
                "source": self.source,
                "n_images": len(self.images),
                "images": self.images,
                "skipped": self.skipped,
                "device": self.device,
                "seed": self.seed,
                "bootstrap": {
                    "resamples": BOOTSTRAP_RESAMPLES,
                    "percentiles": list(CI_PERCENTILES),
                    "paired": True,
                },
                "settings": {
                    "input": "8-bit gray version of each photo (ml.metrics.gray_version)",
                    "psnr_cap_db": metrics.PSNR_CAP_DB,
                    "ab_error_threshold": metrics.AB_ERROR_THRESHOLD,
                    "ssim_window": metrics.SSIM_WINDOW,
                },
                "metrics": {key: asdict(info) for key, info in metrics.METRICS.items()},
                "models": {key: asdict(model) for key, model in self.models.items()},
                "checkpoint_model": self.checkpoint_model,
                "epochs": [asdict(epoch) for epoch in self.epochs],
            }
        )


@dataclass
class _Sample:
    name: str
    gray: np.ndarray
    output: np.ndarray
    truth: np.ndarray
    delta_e00: float


@dataclass
class _Run:
    """One model's pass over the photos."""

    rows: list[dict[str, Any]]
    load_seconds: float
    memory: dict[str, Any]
    samples: list[_Sample]


# --- Photos ---------------------------------------------------------------------------------


def load_truth(path: Path) -> np.ndarray:
    """The ground truth: the photo as people see it (EXIF-oriented), RGB uint8."""
    return np.asarray(open_image(path).convert("RGB"))


def _is_colour(rgb: np.ndarray) -> bool:
    return not (
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def collect_photos(
    images: str | Path | Sequence[str | Path], limit: int | None = None
) -> tuple[list[Photo], list[dict[str, str]]]:
    """The colour photos to evaluate on, in a fixed order, and the files skipped (with why).

    A folder is searched recursively and sorted by relative path, so a run is repeatable; gray
    photos are skipped because there is no colour to compare with. `limit` counts used photos.
    """
    if isinstance(images, str | Path) and Path(images).is_dir():
        root = Path(images)
        candidates = sorted(
            (
                path
                for path in root.rglob("*")
                if path.suffix.lower() in IMAGE_SUFFIXES
                and path.is_file()
                and not any(part.startswith(".") for part in path.relative_to(root).parts)
            ),
            key=lambda path: path.relative_to(root).as_posix(),
        )
        entries = [Photo(path, path.relative_to(root).as_posix()) for path in candidates]
    else:
        paths = [images] if isinstance(images, str | Path) else list(images)
        entries = [Photo(Path(path), str(path)) for path in paths]
        for entry in entries:
            if not entry.path.is_file():
                raise EvaluationError(f"{entry.path} is not a file or folder")
    photos: list[Photo] = []
    skipped: list[dict[str, str]] = []
    for entry in entries:
        if limit is not None and len(photos) >= limit:
            break
        try:
            truth = load_truth(entry.path)
        except InvalidImage as exc:
            skipped.append({"image": entry.name, "reason": str(exc)})
            continue
        if not _is_colour(truth):
            skipped.append({"image": entry.name, "reason": "not a colour photo"})
            continue
        photos.append(entry)
    if not photos:
        raise EvaluationError(f"no colour photos found in {images}")
    return photos, skipped


# --- Models and checkpoints -----------------------------------------------------------------


def installed_models() -> list[str]:
    """Keys of every registered model whose weights are installed."""
    return [spec.key for spec in all_specs() if is_installed(spec.weights)]


@contextlib.contextmanager
def checkpoint_weights(model: str, checkpoint: str | Path) -> Iterator[Path]:
    """Make `model` load its weights from `checkpoint` inside the block.

    The weights lookup is pointed at a temporary folder holding a link, named as the model's
    weights file, to the checkpoint; models are unloaded on the way in and out so that neither
    this checkpoint nor the installed weights leak into the other's results.
    """
    spec = get_spec(model)
    checkpoint = Path(checkpoint).resolve()
    if not checkpoint.is_file():
        raise EvaluationError(f"checkpoint {checkpoint} does not exist")
    previous = config.settings
    with tempfile.TemporaryDirectory(prefix="coloria-checkpoint-") as folder:
        link = Path(folder) / KNOWN_WEIGHTS[spec.weights].filename
        try:
            link.symlink_to(checkpoint)
        except OSError:  # no symlinks (some Windows setups): a copy works the same
            shutil.copyfile(checkpoint, link)
        runtime.unload_all()
        config.configure(weights_dir=folder)
        try:
            yield link
        finally:
            config.settings = previous
            runtime.unload_all()


def _epoch_numbers(paths: Sequence[Path]) -> list[int]:
    """The last number in each checkpoint's name (epoch_012.pth -> 12), else 1, 2, 3..."""
    found = [re.findall(r"\d+", path.stem) for path in paths]
    if all(found):
        numbers = [int(digits[-1]) for digits in found]
        if len(set(numbers)) == len(numbers):
            return numbers
    return list(range(1, len(paths) + 1))


# --- Measuring ------------------------------------------------------------------------------


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


def _seed_everything(seed: int) -> None:
    """Seed every generator a model might draw from, before each photo (order-independent)."""
    random.seed(seed)
    np.random.seed(seed)  # models written against numpy's legacy API draw from this one
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


@contextlib.contextmanager
def _deterministic_torch() -> Iterator[None]:
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


def _run_model(
    key: str,
    photos: Sequence[Photo],
    *,
    device: str | None,
    seed: int,
    samples: int,
    progress: Any,
) -> _Run:
    import ml

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
    kept: list[_Sample] = []
    progress.set_description(key)
    for index, photo in enumerate(photos):
        truth = load_truth(photo.path)
        gray = metrics.gray_version(truth)
        _seed_everything(seed)
        with memory.measure():
            start = time.perf_counter()
            if spec is None:
                output = metrics.colorize_neutral(gray)
            else:
                colorized = ml.colorize(Image.fromarray(gray, mode="L"), model=key, device=device)
                output = np.asarray(colorized.convert("RGB"))
            seconds = time.perf_counter() - start
        scores = metrics.score(output, truth)
        rows.append(
            {
                "image": photo.name,
                "model": key,
                "width": truth.shape[1],
                "height": truth.shape[0],
                **scores,
                "seconds": seconds,
            }
        )
        if index < samples:
            kept.append(
                _Sample(
                    photo.name,
                    _thumbnail(gray),
                    _thumbnail(output),
                    _thumbnail(truth),
                    scores["delta_e00"],
                )
            )
        progress.update(1)
    result = memory.result()
    runtime.unload_all()  # free this model before the next one is measured
    return _Run(rows=rows, load_seconds=load_seconds, memory=result, samples=kept)


# --- Statistics -----------------------------------------------------------------------------


def bootstrap_indices(n: int, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """Resampled photo indices, (resamples, n); shared by all models so intervals are paired."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def describe(values: Sequence[float] | np.ndarray, indices: np.ndarray) -> Stats:
    """Mean, median and the percentile bootstrap interval of the mean over `indices`."""
    array = np.asarray(values, dtype=np.float64)
    means = array[indices].mean(axis=1)
    low, high = np.percentile(means, CI_PERCENTILES)
    return Stats(
        mean=float(array.mean()),
        median=float(np.median(array)),
        ci_low=float(low),
        ci_high=float(high),
        n=len(array),
    )


def _columns(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        name: np.array([row[name] for row in rows], dtype=np.float64) for name in metrics.METRICS
    }


def _summarise(
    rows: Sequence[dict[str, Any]], grey: dict[str, np.ndarray], indices: np.ndarray
) -> tuple[dict[str, Stats], dict[str, Stats]]:
    columns = _columns(rows)
    stats = {name: describe(values, indices) for name, values in columns.items()}
    vs_grey = {name: describe(values - grey[name], indices) for name, values in columns.items()}
    return stats, vs_grey


def _timing(run: _Run) -> dict[str, float]:
    seconds = np.array([row["seconds"] for row in run.rows])
    return {
        "load_seconds": run.load_seconds,
        "seconds_per_image_mean": float(seconds.mean()),
        "seconds_per_image_median": float(np.median(seconds)),
        "total_seconds": float(seconds.sum()),
    }


# --- The evaluation -------------------------------------------------------------------------


def evaluate(
    models: Sequence[str],
    images: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    device: str | None = None,
    limit: int | None = None,
    samples: int = 8,
    checkpoints: Sequence[str | Path] | None = None,
    checkpoint_model: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Summary:
    """Score `models` (plus the grey baseline) on the colour photos in `images`; write reports.

    `images` is a folder (searched recursively) or a list of files; `limit` keeps the first N
    colour photos. With `checkpoints`, `checkpoint_model` (default: the only model given) is run
    once per checkpoint file, in the order given, for the ΔE00-per-epoch plot.
    """
    from tqdm import tqdm

    keys = list(dict.fromkeys(key for key in models if key != GREY_BASELINE))
    for key in keys:
        spec = get_spec(key)
        if not is_installed(spec.weights):
            raise WeightsNotInstalled(
                f"The weights of {spec.name} are not installed. "
                f"Install them with: python manage.py fetch_weights {spec.weights}"
            )
    checkpoint_paths = [Path(path) for path in checkpoints or ()]
    if checkpoint_paths:
        if checkpoint_model is None:
            if len(keys) != 1:
                raise EvaluationError("with checkpoints, name the model they belong to")
            checkpoint_model = keys[0]
        get_spec(checkpoint_model)
        missing = [str(path) for path in checkpoint_paths if not path.is_file()]
        if missing:
            raise EvaluationError(f"checkpoint(s) not found: {', '.join(missing)}")
    else:
        checkpoint_model = None
    if samples < 0:
        raise EvaluationError("samples must be 0 or more")

    out = Path(out_dir)
    photos, skipped = collect_photos(images, limit)
    out.mkdir(parents=True, exist_ok=True)  # an unusable folder fails now, not after scoring
    indices = bootstrap_indices(len(photos), seed)
    resolved_device = runtime.resolve_device(device)
    runs: dict[str, _Run] = {}
    epoch_runs: list[_Run] = []
    total = len(photos) * (1 + len(keys) + len(checkpoint_paths))
    with (
        _deterministic_torch(),
        tqdm(total=total, unit="photo", disable=not progress, file=sys.stderr) as bar,
    ):
        options = {"device": device, "seed": seed, "progress": bar}
        for key in [GREY_BASELINE, *keys]:
            runs[key] = _run_model(key, photos, samples=samples, **options)
        for path in checkpoint_paths:
            assert checkpoint_model is not None  # set above whenever there are checkpoints
            with checkpoint_weights(checkpoint_model, path):
                epoch_runs.append(_run_model(checkpoint_model, photos, samples=0, **options))

    grey = _columns(runs[GREY_BASELINE].rows)
    summaries: dict[str, ModelSummary] = {}
    for key, run in runs.items():
        stats, vs_grey = _summarise(run.rows, grey, indices)
        name = "Leave it grey (a = b = 0)" if key == GREY_BASELINE else get_spec(key).name
        summaries[key] = ModelSummary(key, name, stats, vs_grey, _timing(run), run.memory)
    epochs = []
    for number, path, run in zip(
        _epoch_numbers(checkpoint_paths), checkpoint_paths, epoch_runs, strict=True
    ):
        stats, vs_grey = _summarise(run.rows, grey, indices)
        epochs.append(EpochSummary(number, path.name, stats, vs_grey))

    summary = Summary(
        out_dir=out,
        source=str(images) if isinstance(images, str | Path) else f"{len(photos)} files",
        images=[photo.name for photo in photos],
        skipped=skipped,
        device=resolved_device,
        seed=seed,
        models=summaries,
        checkpoint_model=checkpoint_model,
        epochs=epochs,
    )
    _write_reports(summary, runs)
    return summary


# --- Reports --------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def _write_reports(summary: Summary, runs: dict[str, _Run]) -> None:
    out = summary.out_dir
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(parents=True, exist_ok=True)

    fields = ["image", "model", "width", "height", *metrics.METRICS, "seconds"]
    with open(out / "per_image.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for run in runs.values():
            # Python writes floats as their shortest exact repr: the CSV reproduces the summary.
            writer.writerows(run.rows)

    (out / "summary.json").write_text(
        json.dumps(summary.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    (out / "summary.md").write_text(render_markdown(summary), encoding="utf-8")

    for name, info in metrics.METRICS.items():
        if info.better != "reference":  # the originals' values are drawn in colourfulness.png
            _plot_metric(out / "plots" / f"{name}.png", name, info, summary.models)
    for key, run in runs.items():
        if run.samples:
            _plot_samples(out / "samples" / f"{_safe_name(key)}.png", key, run.samples)
    if summary.epochs:
        _write_epochs(summary, out)


def _number(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def render_markdown(summary: Summary) -> str:
    """summary.md: one table per metric, then time and memory, then the checkpoint series."""
    lines = [
        "# Colorization evaluation",
        "",
        f"{len(summary.images)} colour photos from `{summary.source}`"
        + (f" ({len(summary.skipped)} skipped: see the end)" if summary.skipped else "")
        + f"; device `{summary.device}`; seed {summary.seed}.",
        "",
        "Each photo was reduced to 8-bit gray, colorized, and compared with the original at full "
        "resolution. Intervals are 95 % percentile-bootstrap intervals of the mean "
        f"({BOOTSTRAP_RESAMPLES} resamples of the photos, the same resamples for every model). "
        "*vs grey* is the mean per-photo difference from the grey baseline (the photo left grey, "
        "a = b = 0), with its interval: ΔE00 rewards dull output, so a model helps only where it "
        "beats grey.",
    ]
    for name, info in metrics.METRICS.items():
        unit = f" ({info.unit})" if info.unit else ""
        verdict = (
            "the same photos for every model"
            if info.better == "reference"
            else (f"{info.better} is better")
        )
        lines += [
            "",
            f"## {info.label}{unit}: {verdict}",
            "",
            "| model | mean | 95 % interval | median | vs grey | vs grey 95 % interval |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, model in summary.models.items():
            stats, diff = model.metrics[name], model.vs_grey[name]
            versus = (f"{diff.mean:+.3f}", f"{diff.ci_low:+.3f} to {diff.ci_high:+.3f}")
            if key == GREY_BASELINE or info.better == "reference":
                versus = ("–", "–")
            lines.append(
                f"| {key} | {_number(stats.mean)} | {_number(stats.ci_low)} to "
                f"{_number(stats.ci_high)} | {_number(stats.median)} | {versus[0]} | {versus[1]} |"
            )
    lines += [
        "",
        "## Time and memory",
        "",
        "Seconds per photo are the colorization call alone (the model is loaded first). Peak "
        "memory is the process's resident set while the model loaded and colorized.",
        "",
        "| model | load s | s / photo, mean | s / photo, median | peak RSS MB | RSS increase MB "
        "| CUDA peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, model in summary.models.items():
        timing, memory = model.timing, model.memory
        lines.append(
            f"| {key} | {_number(timing['load_seconds'])} | "
            f"{_number(timing['seconds_per_image_mean'])} | "
            f"{_number(timing['seconds_per_image_median'])} | {memory['peak_rss_mb']:.0f} | "
            f"{memory['rss_increase_mb']:.0f} | "
            + ("–" if memory["cuda_peak_mb"] is None else f"{memory['cuda_peak_mb']:.0f}")
            + " |"
        )
    if summary.epochs:
        grey = summary.models[GREY_BASELINE].metrics["delta_e00"].mean
        lines += [
            "",
            f"## ΔE00 per checkpoint of {summary.checkpoint_model} (grey baseline {grey:.3f})",
            "",
            "| epoch | checkpoint | mean ΔE00 | 95 % interval | vs grey |",
            "|---:|---|---:|---:|---:|",
        ]
        for epoch in summary.epochs:
            stats = epoch.metrics["delta_e00"]
            lines.append(
                f"| {epoch.epoch} | {epoch.checkpoint} | {_number(stats.mean)} | "
                f"{_number(stats.ci_low)} to {_number(stats.ci_high)} | "
                f"{epoch.vs_grey['delta_e00'].mean:+.3f} |"
            )
    if summary.skipped:
        lines += ["", "## Skipped files", ""]
        lines += [f"- {item['image']}: {item['reason']}" for item in summary.skipped]
    return "\n".join(lines) + "\n"


def _figure(width: float, height: float, layout: str | None = None) -> Any:
    # The Agg canvas directly, not pyplot: no global backend state, safe in a web process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _margins(figure: Any, *, left: float, right: float, top: float, bottom: float) -> None:
    """Fixed margins in inches: automatic layout costs more than the whole drawing here."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height
    )


def _plot_metric(
    path: Path, name: str, info: metrics.MetricInfo, models: dict[str, ModelSummary]
) -> None:
    keys = list(models)
    means = np.array([models[key].metrics[name].mean for key in keys])
    low = np.array([models[key].metrics[name].ci_low for key in keys])
    high = np.array([models[key].metrics[name].ci_high for key in keys])
    figure = _figure(max(5.0, 1.2 * len(keys) + 1.5), 4.0)
    _margins(figure, left=0.9, right=0.2, top=0.6, bottom=0.9)
    axes = figure.add_subplot()
    colours = ["#9e9e9e" if key == GREY_BASELINE else "#3b7dd8" for key in keys]
    errors = np.clip(np.vstack([means - low, high - means]), 0, None)
    axes.bar(range(len(keys)), means, yerr=errors, capsize=5, color=colours)
    axes.axhline(models[GREY_BASELINE].metrics[name].mean, color="#616161", ls="--", lw=1)
    if name == "colourfulness":  # the originals' colourfulness is what a model should reach
        truth = models[GREY_BASELINE].metrics["colourfulness_truth"].mean
        axes.axhline(truth, color="#c62828", ls=":", lw=1.5, label="original photos")
        axes.legend(loc="best")
    axes.set_xticks(range(len(keys)), keys, rotation=20, ha="right")
    axes.set_ylabel(info.label + (f" ({info.unit})" if info.unit else ""))
    axes.set_title(f"{info.label}, {info.better} is better\nmean and 95 % bootstrap interval")
    figure.savefig(path, dpi=110)


def _plot_samples(path: Path, key: str, samples: Sequence[_Sample]) -> None:
    # Rows as tall as the tallest thumbnail needs at this width, plus room for the titles.
    aspect = max(sample.truth.shape[0] / sample.truth.shape[1] for sample in samples)
    row = 2.75 * aspect + 0.35
    figure = _figure(9.0, 0.1 + row * len(samples))
    _margins(figure, left=0.3, right=0.05, top=0.3, bottom=0.05)
    figure.subplots_adjust(wspace=0.05, hspace=0.35 / (row - 0.35))
    axes = figure.subplots(len(samples), 3, squeeze=False)
    for row, sample in enumerate(samples):
        panels = [
            (sample.gray, "gray input"),
            (sample.output, f"{key}, ΔE00 {sample.delta_e00:.2f}"),
            (sample.truth, "original"),
        ]
        for column, (image, title) in enumerate(panels):
            cell = axes[row][column]
            cell.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            cell.set_xticks([])
            cell.set_yticks([])
            cell.set_title(title, fontsize=9)
        axes[row][0].set_ylabel(sample.name, fontsize=8)
    figure.savefig(path, dpi=100)


def _write_epochs(summary: Summary, out: Path) -> None:
    fields = ["epoch", "checkpoint", "n_images"]
    for name in metrics.METRICS:
        fields += [f"{name}_mean", f"{name}_ci_low", f"{name}_ci_high"]
    fields += ["delta_e00_vs_grey"]
    with open(out / "epochs.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for epoch in summary.epochs:
            row: dict[str, Any] = {
                "epoch": epoch.epoch,
                "checkpoint": epoch.checkpoint,
                "n_images": len(summary.images),
                "delta_e00_vs_grey": epoch.vs_grey["delta_e00"].mean,
            }
            for name, stats in epoch.metrics.items():
                row |= {
                    f"{name}_mean": stats.mean,
                    f"{name}_ci_low": stats.ci_low,
                    f"{name}_ci_high": stats.ci_high,
                }
            writer.writerow(row)

    from matplotlib.ticker import MaxNLocator

    numbers = [epoch.epoch for epoch in summary.epochs]
    stats = [epoch.metrics["delta_e00"] for epoch in summary.epochs]
    figure = _figure(6.4, 4.0, layout="constrained")
    axes = figure.add_subplot()
    axes.fill_between(
        numbers, [s.ci_low for s in stats], [s.ci_high for s in stats], alpha=0.25, lw=0
    )
    axes.plot(numbers, [s.mean for s in stats], marker="o", label=summary.checkpoint_model)
    axes.axhline(
        summary.models[GREY_BASELINE].metrics["delta_e00"].mean,
        color="#616161",
        ls="--",
        label=GREY_BASELINE,
    )
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("mean ΔE00 (lower is better)")
    axes.set_title(f"ΔE00 per checkpoint, {len(summary.images)} photos, 95 % interval")
    axes.legend()
    figure.savefig(out / "epochs.png", dpi=110)


# --- Command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, *, out_required: bool = True) -> None:
    """The options of `python -m ml.evaluate`; `manage.py evaluate` takes the same ones."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--models", nargs="+", metavar="KEY", default=[], help="models to score")
    which.add_argument(
        "--all-installed", action="store_true", help="score every model whose weights are installed"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--images", nargs="+", metavar="PATH", help="a folder of colour photos, or photo files"
    )
    source.add_argument(
        "--photo-set", metavar="DIR", help="a photo set folder: its val/ split is used"
    )
    parser.add_argument(
        "--out", required=out_required, metavar="DIR", help="folder for the reports"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="use the first N colour photos")
    parser.add_argument(
        "--samples", type=int, default=8, metavar="N", help="photos in each sample grid (8)"
    )
    parser.add_argument("--device", choices=config.DEVICES, help="default: the configured one")
    parser.add_argument("--seed", type=int, default=0, help="seed for models and bootstrap (0)")
    parser.add_argument(
        "--checkpoints", nargs="+", metavar="CKPT", help="checkpoint files, in epoch order"
    )
    parser.add_argument(
        "--checkpoint-model", metavar="KEY", help="the model the checkpoints are weights of"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def evaluate_from_options(options: dict[str, Any], out_dir: str | Path) -> Summary:
    """Run `evaluate` with parsed command-line options (shared with the Django command)."""
    if options.get("all_installed"):
        models = installed_models()
    else:
        models = list(options.get("models") or [])
    if not models and not options.get("checkpoints"):
        raise EvaluationError("name models with --models, or use --all-installed or --checkpoints")
    if options.get("photo_set"):
        images: str | Path | list[str] = Path(options["photo_set"]) / "val"
        if not images.is_dir():
            raise EvaluationError(f"{options['photo_set']} has no val/ folder")
    else:
        paths = options["images"]
        images = paths[0] if len(paths) == 1 and Path(paths[0]).is_dir() else paths
    limit = options.get("limit")
    if limit is not None and limit < 1:
        raise EvaluationError("--limit must be 1 or more")
    return evaluate(
        models,
        images,
        out_dir,
        device=options.get("device"),
        limit=limit,
        samples=options.get("samples", 8),
        checkpoints=options.get("checkpoints"),
        checkpoint_model=options.get("checkpoint_model"),
        seed=options.get("seed", 0),
        progress=not options.get("no_progress"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ml.evaluate",
        description="Score colorization models (and the grey baseline) on colour photos.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        summary = evaluate_from_options(vars(args), args.out)
    except (EvaluationError, ColorizeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    print(render_markdown(summary))
    print(f"Reports written to {summary.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
