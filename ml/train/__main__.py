"""python -m ml.train FAMILY --config FILE [--set section.key=value ...]

FAMILY is a family's training pipeline as its catalogue record names it (ml/catalogue/)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ml import cards
from ml.errors import os_error_message
from ml.registry import all_families, load_code
from ml.train import common


def pipelines() -> dict[str, str]:
    """Training command name -> "module:Class" of its pipeline, from the family records."""
    import ml  # noqa: F401  (loads the catalogue)

    return {family.command: family.trainer for family in all_families() if family.trainer}


def main(argv: list[str] | None = None) -> int:
    known = pipelines()
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__)
    parser.add_argument("family", choices=sorted(known))
    parser.add_argument("--config", required=True, help="TOML file (see ml/train/configs/)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = None
    try:
        config = common.load_config(args.config, args.set)
        started = time.perf_counter()
        run = load_code(known[args.family])(config)
        outcome = run.run(progress=not args.no_progress)
        export = config.get("output", {}).get("export")
        if run.dist.is_main and export:
            _export_with_card(run, Path(export), args.family, config, outcome, started)
        run.dist.close()
    except (common.TrainingError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that is a file, a full disk
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        if config is None or config.checked:
            raise  # training had started: not a settings problem
        # Before the first step, such an error is almost always a setting that would not
        # convert (int('many')): name the one read last.
        print(f"error: bad setting {config.last_read()}: {exc}", file=sys.stderr)
        return 2
    validation = outcome.get("validation")
    print(f"trained to step {outcome['step']} in {time.perf_counter() - started:.0f} s")
    if validation is not None:
        print(
            f"val ΔE00 {validation.delta_e00:.2f} (grey {validation.grey_delta_e00:.2f}), "
            f"colourfulness {validation.colourfulness:.1f} "
            f"(truth {validation.truth_colourfulness:.1f})"
        )
    return 0


def _export_with_card(run, path, family: str, config: dict, outcome: dict, started: float) -> None:
    """Export the weights, then write their card beside them."""
    run.export(path)
    model = config.get("output", {}).get("model", path.stem)
    seconds = time.perf_counter() - started
    card = cards.write_card(
        path, model=model, family=family, config=config, outcome=outcome, seconds=seconds,
        device=str(getattr(run, "device", "cpu")),
    )  # fmt: skip
    if hasattr(run, "complete_card"):  # a family whose card says more (BigColor)
        run.complete_card(card)
    print(f"exported {path} with its card {card}")


if __name__ == "__main__":
    sys.exit(main())
