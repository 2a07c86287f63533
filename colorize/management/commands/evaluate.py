"""manage.py evaluate: score models on colour photos and keep the figures for the model pages.

The options are those of `python -m ml.evaluate` (see that module); --out defaults to a new
folder under <data dir>/evaluations/runs/. After the run, each scored model's summary is merged
into <data dir>/evaluations/latest.json (colorize.evaluations says how).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from colorize.evaluations import evaluations_dir, store_latest
from ml.errors import ColorizeError, os_error_message
from ml.evaluate import EvaluationError, add_arguments, evaluate_from_options, render_markdown


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
