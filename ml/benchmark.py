"""Speed and memory of models per working size: `python -m ml.benchmark`.

    python -m ml.benchmark --models deoldify-artistic deoldify-stable --render-factors 7 21 35 45
    python -m ml.benchmark --models bigcolor ddcolor-tiny   # no render factor: one setting each
    python -m ml.benchmark --pipeline                        # 40 MP hard content; 1-24 MP stages
    python -m ml.benchmark --guided --photos photos/val      # colour scribbles: speed, quality
    python -m ml.benchmark --video [ARGS]                    # films: ml.video.benchmark's ARGS
    python -m ml.benchmark --inference --repeats 5           # exact against fast, every family

Each (model, setting) runs in a fresh process so that its peak resident memory is its own. By
default the networks get random weights in the official layout (time and memory do not depend
on the values), so the figures can be measured on a machine without the official files;
`--installed` uses the installed weights instead. Prints one table, with each time also given as
a ratio to the first setting measured in the same run, and as photos an hour for one worker
process (one photo at a time, the model loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ml import benchmark_inference
from ml.benchmark_inference import random_weights as _random_weights

DEFAULT_MODELS = ("deoldify-artistic", "deoldify-stable")
DEFAULT_RENDER_FACTORS = (7, 14, 21, 28, 35, 45)


def _settings(model: str, render_factors: list[int]) -> list[int]:
    """The render factors to measure, or [0] (one run) for a model that has none."""
    from ml.registry import get_spec

    takes_factor = any(p.name == "render_factor" for p in get_spec(model).params)
    return render_factors if takes_factor else [0]


def _child(model: str, render_factor: int, repeats: int, device: str, weights_dir: str) -> None:
    """Measure one setting in this process and print a JSON line."""
    import numpy as np
    import torch
    from PIL import Image

    import ml
    from ml import runtime

    ml.configure(weights_dir=weights_dir or None, device=device)
    rng = np.random.default_rng(0)
    photo = (rng.random((768, 1024)) * 255).astype(np.uint8)
    image = Image.fromarray(photo)
    started = time.perf_counter()
    runtime.load_predictor(ml.get_spec(model))
    load_seconds = time.perf_counter() - started
    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    params = {"render_factor": render_factor} if render_factor else {}
    if ml.get_spec(model).needs_reference:  # a colour photo of the same size
        params["reference"] = Image.fromarray(rng.integers(0, 256, (768, 1024, 3), np.uint8))
    elif ml.get_spec(model).missing_required(params):  # scribbles: 24 dots of colour
        params["hints"] = [
            (x, y, (200, 80, 40)) for x in range(64, 1024, 128) for y in (96, 384, 672)
        ]
    ml.colorize(image, model=model, **params)  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        ml.colorize(image, model=model, **params)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    figures = {
        "load_seconds": load_seconds,
        "seconds": sorted(seconds)[len(seconds) // 2],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }
    print(json.dumps(figures))


# --- the colour pipeline on large photos of hard content ----------------------------------------

PIPELINE_CASES = ("photo", "flat-black", "flat-white", "saturated-noise")
PIPELINE_MODEL = "zhang-eccv16"


def pipeline_photo(case: str, width: int, height: int):
    """A generated photo: "photo" has smooth shapes, texture and mid-tones like a real one; the
    others are the worst cases for the gamut fit (every pixel out of gamut at L* 0 or 100) and
    for compression."""
    import numpy as np
    from PIL import Image

    if case == "flat-black":
        return Image.new("L", (width, height), 0)
    if case == "flat-white":
        return Image.new("L", (width, height), 255)
    rng = np.random.default_rng(0)
    if case == "saturated-noise":
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    y, x = np.ogrid[:height, :width]
    smooth = 128 + 60 * np.sin(x / (width / 7)) * np.cos(y / (height / 5))
    small = rng.normal(0, 12, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    texture = np.kron(small, np.ones((8, 8), dtype=np.float32))[:height, :width]
    return Image.fromarray(np.clip(smooth + texture, 0, 255).astype(np.uint8))


def _pipeline_child(case: str, width: int, height: int, weights_dir: str) -> None:
    """Colorize one generated photo in this process (with the model loaded first, so that what
    is measured is the photo's cost) and print a JSON line."""
    import io

    import ml
    from ml import runtime

    ml.configure(weights_dir=weights_dir or None, device="cpu")
    runtime.load_predictor(ml.get_spec(PIPELINE_MODEL))
    ml.colorize(pipeline_photo("photo", 64, 64), model=PIPELINE_MODEL)  # warm-up
    image = pipeline_photo(case, width, height)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    colorized = ml.colorize(image, model=PIPELINE_MODEL)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    colorized.save(io.BytesIO(), format="PNG")
    png_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "png_seconds": png_seconds, "peak_rss_mb": peak,
                      "rss_before_mb": before}))  # fmt: skip


def run_pipeline(width: int, height: int, out=sys.stdout) -> list[dict]:
    """Each case in a fresh process; times and peak memory also as ratios to the plain photo."""
    rows = []
    print(
        f"colour pipeline: {PIPELINE_MODEL} (random weights) on {width} x {height} "
        f"({width * height / 1e6:.1f} MP) generated photos, each in a fresh process",
        file=out,
    )
    print(
        f"  {'photo':<16} {'colorize s':>10} {'x photo':>8} {'PNG s':>7} {'peak RSS MB':>12} "
        f"{'x photo':>8}",
        file=out,
    )
    with tempfile.TemporaryDirectory(prefix="coloria-bench-") as scratch:
        _random_weights(PIPELINE_MODEL, Path(scratch))
        for case in PIPELINE_CASES:
            command = [sys.executable, "-m", "ml.benchmark", "--pipeline-child", case,
                       str(width), str(height), scratch]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
                print(f"  {case}: failed: {tail[0]}", file=out)
                continue
            row = {"case": case, **json.loads(done.stdout.strip().splitlines()[-1])}
            rows.append(row)
            first = rows[0]
            print(
                f"  {case:<16} {row['seconds']:>10.2f} {row['seconds'] / first['seconds']:>8.2f} "
                f"{row['png_seconds']:>7.2f} {row['peak_rss_mb']:>12.0f} "
                f"{row['peak_rss_mb'] / first['peak_rss_mb']:>8.2f}",
                file=out,
                flush=True,
            )
    return rows


def run(
    models: list[str],
    render_factors: list[int],
    *,
    repeats: int,
    device: str,
    installed: bool,
    out=sys.stdout,
) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="coloria-bench-") as scratch:
        weights_dir = "" if installed else scratch
        for model in models:
            if not installed:
                _random_weights(model, Path(scratch))
            for factor in _settings(model, render_factors):
                command = [
                    sys.executable,
                    "-m",
                    "ml.benchmark",
                    "--child",
                    model,
                    str(factor),
                    str(repeats),
                    device,
                    weights_dir,
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
                if done.returncode != 0:
                    tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
                    print(f"{model} render factor {factor}: failed: {tail[0]}", file=out)
                    continue
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append({"model": model, "render_factor": factor, **figures})
                _print_row(rows, out)
    return rows


def _print_row(rows: list[dict], out) -> None:
    row = rows[-1]
    first = next(r for r in rows if r["model"] == row["model"])
    if row is first:
        print(f"\n{row['model']} (load {row['load_seconds']:.1f} s)", file=out)
        print(
            f"  {'render factor':>13} {'side px':>8} {'s / photo':>10} {'photos / h':>10} "
            f"{'x first':>8} {'peak RSS MB':>12} {'CUDA peak MB':>13}",
            file=out,
        )
    cuda = f"{row['cuda_peak_mb']:.0f}" if row["cuda_peak_mb"] is not None else "-"
    factor = row["render_factor"]
    side = factor * 16 if factor else "model's"
    print(
        f"  {factor or '-':>13} {side:>8} {row['seconds']:>10.2f} {3600 / row['seconds']:>10.0f} "
        f"{row['seconds'] / first['seconds']:>8.2f} {row['peak_rss_mb']:>12.0f} {cuda:>13}",
        file=out,
        flush=True,
    )


def _other_command(argv: list[str]) -> int | None:
    """The measuring child processes and the films' benchmark, which take arguments of their
    own; None when `argv` is none of them."""
    if argv[:1] == ["--video"]:  # films: seconds per frame, flicker, memory
        from ml.video import benchmark as video

        return video.main(argv[1:])
    if benchmark_inference.child(argv):
        return 0
    if argv[:1] == ["--pipeline-child"]:
        case, width, height, weights_dir = argv[1:5]
        _pipeline_child(case, int(width), int(height), weights_dir)
        return 0
    if argv[:1] == ["--child"]:
        model, factor, repeats, device, weights_dir = argv[1:6]
        _child(model, int(factor), int(repeats), device, weights_dir)
        return 0
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    status = _other_command(argv)
    if status is not None:
        return status
    parser = argparse.ArgumentParser(
        prog="python -m ml.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument(
        "--render-factors", nargs="+", type=int, default=list(DEFAULT_RENDER_FACTORS)
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after a warm-up")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--installed", action="store_true", help="use the installed weights")
    parser.add_argument(
        "--pipeline", action="store_true",
        help="measure the colour pipeline on large photos (normal, flat black, flat white, noise)",
    )  # fmt: skip
    parser.add_argument("--size", nargs=2, type=int, default=(7000, 5700), metavar=("W", "H"),
                        help="photo size for --pipeline (default: 40 megapixels)")  # fmt: skip
    benchmark_inference.add_arguments(parser)
    parser.add_argument("--guided", action="store_true", help="measure the colour scribbles")
    parser.add_argument("--photos", type=Path, help="colour photos for --guided's quality figures")
    args = parser.parse_args(argv)
    if args.guided:
        from ml.guided import benchmark as guided

        guided.measure_speed()
        if args.photos:
            guided.measure_quality(args.photos)
            guided.measure_reference(args.photos)
        return 0
    if args.pipeline:
        from ml import pipeline_benchmark  # the 1, 12 and 24 MP rows, stage by stage

        hard = run_pipeline(*args.size)
        return 0 if hard and pipeline_benchmark.measure() else 1
    if args.inference is not None or args.tolerance is not None:
        return benchmark_inference.main(args, parser)
    threads = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count())
    print(
        f"device {args.device}, {threads} CPU threads, photo 1024 x 768, median of "
        f"{args.repeats} after a warm-up",
        flush=True,
    )
    rows = run(
        args.models,
        args.render_factors,
        repeats=args.repeats,
        device=args.device,
        installed=args.installed,
    )
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
