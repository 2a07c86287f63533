"""manage.py evaluate: score models on colour photos and keep the figures for the model pages.

The options are those of `python -m ml.evaluate` (see that module); --out defaults to a new
folder under <data dir>/evaluations/runs/. After the run, each scored model's summary is stored
in <data dir>/evaluations/latest.json, merged with what is there: a model keeps its last run, and
models this run did not score keep theirs. The file looks like

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
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ml.errors import ColorizeError, os_error_message
from ml.evaluate import (
    GREY_BASELINE,
    SUMMARY_FORMAT,
    EvaluationError,
    Summary,
    add_arguments,
    evaluate_from_options,
    render_markdown,
)


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


class Command(BaseCommand):
    help = (
        "Score colorization models (and the grey baseline) on colour photos: per-image CSV, "
        "summary tables, plots; and store the figures for the model pages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, out_required=False)

    def handle(self, *args: Any, **options: Any) -> None:
        base = evaluations_dir()
        out = options["out"] or base / "runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        try:
            summary = evaluate_from_options(options, out)
        except (EvaluationError, ColorizeError) as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(os_error_message(exc)) from exc
        latest = base / "latest.json"
        store_latest(summary, latest)
        self.stdout.write(render_markdown(summary))
        self.stdout.write(self.style.SUCCESS(f"Reports written to {summary.out_dir}"))
        self.stdout.write(f"Model page figures updated in {latest}")
