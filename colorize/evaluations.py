"""The evaluation figures the model pages show: `manage.py evaluate` writes them (store_latest)
and the pages read them (evaluation_figures), both here.

Each scored model's summary is kept in <data dir>/evaluations/latest.json, merged with what is
there: a model keeps its last run, and models a run did not score keep theirs. The file looks like

    {"format": 1, "updated_at": "2026-...Z",
     "models": {"zhang-eccv16": {
         "name": ..., "evaluated_at": ..., "run_dir": ..., "source": ..., "n_images": 100,
         "device": "cuda", "seed": 0,
         "metrics": {"delta_e00": {"mean", "median", "ci_low", "ci_high", "n"}, ...},
         "vs_grey": {...same shape: per-photo model minus grey baseline...},
         "grey_baseline": {...the grey baseline's metrics on the same photos...},
         "timing": {...}, "memory": {...},
         "epochs": {"evaluated_at", "source", "n_images", "grey_delta_e00", "series": [...]}}}}

"epochs" is present for a model whose checkpoints were evaluated (it survives later runs that
did not evaluate checkpoints); "metrics" and the rest are absent if only checkpoints were.
Reading checks every value: a damaged file shows fewer figures, never an error page.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from ml.evaluate import GREY_BASELINE, SUMMARY_FORMAT, Summary

log = logging.getLogger(__name__)


# --- Writing ------------------------------------------------------------------------------------


def evaluations_dir() -> Path:
    """Where evaluation runs and latest.json live: <data dir>/evaluations."""
    data_dir = getattr(settings, "COLORIA_DATA_DIR", None) or settings.DATA_DIR
    return Path(data_dir) / "evaluations"


def store_latest(summary: Summary, path: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Merge this run's per-model figures into latest.json (written atomically); returns it."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        models: dict[str, Any] = dict(stored.get("models") or {})
    except FileNotFoundError:
        models = {}
    except (ValueError, AttributeError):
        # A damaged file holds only figures derived from earlier runs: start it again rather
        # than refuse to record this one.
        models = {}
    run = summary.to_dict()
    grey = run["models"][GREY_BASELINE]["metrics"]
    common = {
        "evaluated_at": stamp,
        "run_dir": str(summary.out_dir),
        "source": run["source"],
        "n_images": run["n_images"],
        "device": run["device"],
        "seed": run["seed"],
    }
    for key, model in run["models"].items():
        if key == GREY_BASELINE:
            continue
        entry = {"name": model["name"], **common, **_figures(model), "grey_baseline": grey}
        if "epochs" in models.get(key, {}):
            entry["epochs"] = models[key]["epochs"]  # a run without checkpoints keeps the series
        models[key] = entry
    if run["epochs"]:
        entry = models.setdefault(run["checkpoint_model"], {})
        entry["epochs"] = {
            "evaluated_at": stamp,
            "run_dir": str(summary.out_dir),
            "source": run["source"],
            "n_images": run["n_images"],
            "grey_delta_e00": grey["delta_e00"],
            "series": run["epochs"],
        }
    data = {"format": SUMMARY_FORMAT, "updated_at": stamp, "models": models}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a page never reads a half-written file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".latest-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, ensure_ascii=False, allow_nan=False)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return data


def _figures(model: dict[str, Any]) -> dict[str, Any]:
    return {name: model[name] for name in ("metrics", "vs_grey", "timing", "memory")}


def evaluations_file() -> Path:
    return evaluations_dir() / "latest.json"


# --- Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    label: str
    mean: float
    unit: str = ""
    better: str = ""
    ci_low: float | None = None
    ci_high: float | None = None
    grey: float | None = None  # the leave-it-grey baseline on the same photos


@dataclass
class ModelFigures:
    """One model's latest evaluation, checked value by value (the file may be damaged)."""

    metrics: list[Metric] = field(default_factory=list)
    seconds_per_image: float | None = None
    load_seconds: float | None = None
    peak_memory_mb: float | None = None
    cuda_peak_mb: float | None = None
    n_images: int | None = None
    device: str = ""
    evaluated_at: Any = None
    delta_e00_vs_grey: float | None = None


# (key in latest.json, label, unit, which way is better)
SHOWN_METRICS = [
    ("delta_e00", "ΔE00 (colour difference)", "", "lower is closer"),
    ("psnr", "PSNR", "dB", "higher is closer"),
    ("ssim", "SSIM", "", "higher is closer"),
    ("colourfulness", "Colourfulness", "", "closer to the original's is better"),
    ("ab_error_share", "Pixels with a clearly wrong colour", "%", "lower is better"),
]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _model_figures(entry: dict[str, Any]) -> ModelFigures | None:
    stats = _mapping(entry.get("metrics"))
    grey = _mapping(entry.get("grey_baseline"))
    figures = ModelFigures()
    for key, label, unit, better in SHOWN_METRICS:
        stat = _mapping(stats.get(key))
        mean = _number(stat.get("mean"))
        if mean is None:
            continue
        figures.metrics.append(
            Metric(
                label=label,
                mean=mean,
                unit=unit,
                better=better,
                ci_low=_number(stat.get("ci_low")),
                ci_high=_number(stat.get("ci_high")),
                grey=_number(_mapping(grey.get(key)).get("mean")),
            )
        )
    if not figures.metrics:
        return None
    timing = _mapping(entry.get("timing"))
    memory = _mapping(entry.get("memory"))
    figures.seconds_per_image = _number(timing.get("seconds_per_image_mean"))
    figures.load_seconds = _number(timing.get("load_seconds"))
    figures.peak_memory_mb = _number(memory.get("peak_rss_mb"))
    figures.cuda_peak_mb = _number(memory.get("cuda_peak_mb"))
    n_images = entry.get("n_images")
    figures.n_images = n_images if isinstance(n_images, int) and n_images >= 0 else None
    device = entry.get("device")
    figures.device = device if isinstance(device, str) else ""
    stamp = entry.get("evaluated_at")
    if isinstance(stamp, str):
        try:
            figures.evaluated_at = parse_datetime(stamp.replace("Z", "+00:00"))
        except ValueError:
            figures.evaluated_at = None
    figures.delta_e00_vs_grey = _number(
        _mapping(_mapping(entry.get("vs_grey")).get("delta_e00")).get("mean")
    )
    return figures


def evaluation_figures(path: Path | None = None) -> dict[str, ModelFigures]:
    """The figures `manage.py evaluate` stored, per model key; {} if missing or unreadable."""
    path = path or evaluations_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("ignoring unreadable evaluation figures in %s", path)
        return {}
    figures = {}
    for key, entry in _mapping(_mapping(data).get("models")).items():
        if isinstance(key, str) and isinstance(entry, dict):
            model = _model_figures(entry)
            if model is not None:
                figures[key] = model
    return figures
