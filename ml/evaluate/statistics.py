"""Means, medians and bootstrap intervals of per-photo figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ml import metrics
from ml.evaluate.summary import BOOTSTRAP_RESAMPLES, CI_PERCENTILES, ModelRun, Stats


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


def metric_columns(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        name: np.array([row[name] for row in rows], dtype=np.float64) for name in metrics.METRICS
    }


def summarise(
    rows: Sequence[dict[str, Any]], grey: dict[str, np.ndarray], indices: np.ndarray
) -> tuple[dict[str, Stats], dict[str, Stats]]:
    columns = metric_columns(rows)
    stats = {name: describe(values, indices) for name, values in columns.items()}
    vs_grey = {name: describe(values - grey[name], indices) for name, values in columns.items()}
    return stats, vs_grey


def timing(run: ModelRun) -> dict[str, float]:
    seconds = np.array([row["seconds"] for row in run.rows])
    return {
        "load_seconds": run.load_seconds,
        "seconds_per_image_mean": float(seconds.mean()),
        "seconds_per_image_median": float(np.median(seconds)),
        "total_seconds": float(seconds.sum()),
    }
