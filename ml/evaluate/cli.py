"""python -m ml.evaluate: the command line (also used by manage.py evaluate)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml import config
from ml.errors import ColorizeError, os_error_message
from ml.evaluate.photos import installed_models
from ml.evaluate.report import render_markdown
from ml.evaluate.run import evaluate
from ml.evaluate.summary import EvaluationError, Summary


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
