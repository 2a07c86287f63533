"""The reports an evaluation writes: CSV, JSON, Markdown, plots and sample sheets."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml import metrics
from ml.evaluate.summary import (
    BOOTSTRAP_RESAMPLES,
    GREY_BASELINE,
    ModelRun,
    ModelSummary,
    Sample,
    Summary,
)


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def write_reports(summary: Summary, runs: dict[str, ModelRun]) -> None:
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
        lines += _metric_table(summary, name, info)
    lines += _resources_table(summary)
    if summary.epochs:
        lines += _epochs_table(summary)
    if summary.skipped:
        lines += ["", "## Skipped files", ""]
        lines += [f"- {item['image']}: {item['reason']}" for item in summary.skipped]
    return "\n".join(lines) + "\n"


def _metric_table(summary: Summary, name: str, info: metrics.MetricInfo) -> list[str]:
    unit = f" ({info.unit})" if info.unit else ""
    verdict = (
        "the same photos for every model"
        if info.better == "reference"
        else f"{info.better} is better"
    )
    lines = [
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
    return lines


def _resources_table(summary: Summary) -> list[str]:
    lines = [
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
    return lines


def _epochs_table(summary: Summary) -> list[str]:
    grey = summary.models[GREY_BASELINE].metrics["delta_e00"].mean
    lines = [
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
    return lines


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


def _plot_samples(path: Path, key: str, samples: Sequence[Sample]) -> None:
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
