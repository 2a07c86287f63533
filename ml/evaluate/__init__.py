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

from ml.evaluate.cli import add_arguments, evaluate_from_options, main
from ml.evaluate.photos import checkpoint_weights, collect_photos, installed_models
from ml.evaluate.report import render_markdown
from ml.evaluate.run import evaluate
from ml.evaluate.summary import GREY_BASELINE, SUMMARY_FORMAT, EvaluationError, Summary

__all__ = [
    "GREY_BASELINE", "SUMMARY_FORMAT", "EvaluationError", "Summary", "add_arguments",
    "checkpoint_weights", "collect_photos", "evaluate", "evaluate_from_options",
    "installed_models", "main", "render_markdown",
]  # fmt: skip
