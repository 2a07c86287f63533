"""python -m ml.train FAMILY --config FILE [--set section.key=value ...] [--export PATH]"""

from __future__ import annotations

import argparse
import sys
import time

from ml.train import common

FAMILIES = ("zhang", "cnn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__)
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--config", required=True, help="TOML file (see ml/train/configs/)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = common.load_config(args.config, args.set)
        started = time.perf_counter()
        if args.family == "zhang":
            from ml.train.zhang import ZhangTraining

            run = ZhangTraining(config)
            outcome = run.run(progress=not args.no_progress)
            if run.dist.is_main and config.get("output", {}).get("export"):
                run.export(common.Path(config["output"]["export"]))
            run.dist.close()
        else:
            from ml.train.keras_cnn import CNNTraining

            outcome = CNNTraining(config).run(progress=not args.no_progress)
    except (common.TrainingError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
