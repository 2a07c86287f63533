"""What an evaluation produces: its constants, the photos and figures it keeps, the summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml import metrics

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
        return finite(
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
class Sample:
    name: str
    gray: np.ndarray
    output: np.ndarray
    truth: np.ndarray
    delta_e00: float


@dataclass
class ModelRun:
    """One model's pass over the photos."""

    rows: list[dict[str, Any]]
    load_seconds: float
    memory: dict[str, Any]
    samples: list[Sample]


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
