"""`exact` against `fast` (ml.inference) for every family: `python -m ml.benchmark --inference`.

    python -m ml.benchmark --inference                       # every family at its usual sizes
    python -m ml.benchmark --inference --models zhang-eccv16 deoldify-artistic:21 --repeats 7

For each model and setting: the network's time (the predictor's `predict`, on the photo's gray)
and the whole pipeline's (`ml.colorize` of a 1024 x 768 photo, then of a 12-megapixel one) in
`exact` and in `fast`, each mode in fresh processes of its own as a worker runs it (two each, in
the order exact, fast, fast, exact; medians once the process has settled), with the load +
warm-up time (load, then one prediction: what a warm worker pays at start, tracing included)
and the peak resident memory (before the 12-megapixel photo, and with it). Random weights in
the official layout unless --installed.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# (model, setting): the usual sizes (issue #23). The setting is a render factor (DeOldify) or an
# input size (DDColor); 0 where the model has one size.
DEFAULT_CASES = (
    "zhang-eccv16", "zhang-siggraph17", "zhang-eccv16-coloria", "coloria-lite",
    "deoldify-artistic:21", "deoldify-artistic:35", "deoldify-stable:21", "deoldify-stable:35",
    "bigcolor", "ddcolor-tiny:512", "ddcolor-paper:512", "cnn-coloria",
)  # fmt: skip
PHOTO = (1024, 768)
LARGE_PHOTO = (4000, 3000)  # 12 megapixels: where the stages around the network weigh most


def random_weights(model: str, directory: Path, seed: int = 0) -> None:
    """Write random weights for `model` under its official filename, with its family's
    builder (see ml.registry.Family.random_weights), drawn from `seed`: the same weights at
    every run, so the same colours (a 12-megapixel photo's out-of-gamut colours, which compose
    fits one by one, took DDColor-T's 12 MP pipeline from 2.4 to 3.6 s between two runs)."""
    import torch

    from ml.registry import get_family, get_spec, load_code

    torch.manual_seed(seed)

    spec = get_spec(model)
    if not spec.weights:  # a model without weights (the scribbles' solver)
        return
    family = get_family(spec.family)
    if family is None or not family.random_weights:
        raise SystemExit(f"the family of {model} has no random-weights builder")
    load_code(family.random_weights)(spec, directory)


def _shipped(model: str) -> bool:
    """Whether the model's weights ship with Coloria (measured as they are)."""
    from ml import config
    from ml.registry import get_spec
    from ml.weights import known

    spec = get_spec(model)
    return (
        bool(spec.weights) and (config.SHIPPED_WEIGHTS_DIR / known(spec.weights).filename).exists()
    )


def _params(model: str, setting: int) -> dict:
    import ml

    spec = ml.get_spec(model)
    names = spec.param_names
    params: dict = {}
    if setting and "render_factor" in names:
        params["render_factor"] = setting
    elif setting and "input_size" in names:
        params["input_size"] = setting
    if "imagenet_class" in names:  # the classifier is not the network measured here
        params["imagenet_class"] = 979
    return params


def _photo(size: tuple[int, int] = PHOTO):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    smooth = 128 + 60 * np.sin(x / 150) * np.cos(y / 110) + rng.normal(0, 12, x.shape)
    return Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8))


def _mode_child(model: str, setting: int, mode: str, repeats: int, device: str,
                weights_dir: str) -> None:  # fmt: skip
    """One mode in this fresh process, as a worker runs it: load + warm-up (load, then one
    prediction: what a warm worker pays at start, tracing or exporting included), the network
    and whole-pipeline times (medians of `repeats` once the process has settled, as a worker's
    has after a few jobs: SETTLING), the peak resident memory (before the 12-megapixel photo,
    and with it); prints a JSON line."""
    import ml
    from ml import memory, runtime
    from ml.color import to_gray

    ml.configure(weights_dir=weights_dir or None, device=device, inference=mode)
    spec, params, photo = ml.get_spec(model), _params(model, setting), _photo()
    gray, cleaned = to_gray(photo), spec.clean_params(_params(model, setting))
    started = time.perf_counter()
    predictor = runtime.load_predictor(spec)
    loaded = time.perf_counter() - started
    predictor.predict(gray, **cleaned)
    warm = time.perf_counter() - started
    for _ in range(SETTLING):
        predictor.predict(gray, **cleaned)
        result = ml.colorize(photo, model=model, **params)
    net, pipe = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        predictor.predict(gray, **cleaned)
        net.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = ml.colorize(photo, model=model, **params)
        pipe.append(time.perf_counter() - started)
    peak = _peak_rss_mb()
    large, pipe_large = _photo(LARGE_PHOTO), []
    ml.colorize(large, model=model, **params)  # its first run pays for its larger buffers
    for _ in range(repeats):
        started = time.perf_counter()
        large_result = ml.colorize(large, model=model, **params)
        pipe_large.append(time.perf_counter() - started)
    print(json.dumps({
        "net": net, "pipe": pipe, "pipe_large": pipe_large, "load_s": loaded,
        "load_warm_s": warm, "peak_rss_mb": peak, "peak_rss_large_mb": _peak_rss_mb(),
        "large_size": large_result.size,
        "path": result.info["coloria"].get("inference", "exact"),
        "reuse_memory": memory.reusing,
    }))  # fmt: skip


# Untimed rounds (a prediction and a whole pipeline each) before the timed ones. The eager
# network runs faster after a few rounds, once the C heap keeps its activations' blocks rather
# than mapping them afresh at each run (DeOldify-Stable at render factor 21: 5.0-5.9 s over its
# first six predictions, 4.9-5.0 s from then on); a frozen trace settles at once.
SETTLING = 3


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(args: list[str], reuse_memory: bool = True) -> dict | str:
    command = [sys.executable, "-m", "ml.benchmark", *args]
    env = {**os.environ, "COLORIA_REUSE_MEMORY": "1" if reuse_memory else "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        return (done.stderr.strip().splitlines()[-1:] or ["no output"])[0]
    return json.loads(done.stdout.strip().splitlines()[-1])


def describe_machine(device: str) -> str:
    """CPU model, threads, library versions and the fast path's precision, for the table."""
    import torch

    from ml import inference

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = []
    packages = ("torch", "torchvision", "onnxruntime", "numpy", "pillow", "tensorflow", "keras")
    for package in packages:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    low = inference.low_precision(device)
    return (
        f"{cpu}; {torch.get_num_threads()} PyTorch threads; device {device}; "
        f"fast precision {str(low).removeprefix('torch.') if low else 'float32'}\n"
        f"{', '.join(versions)}"
    )


def run(
    cases: list[str],
    *,
    repeats: int,
    device: str,
    installed: bool,
    exact_reuse: bool = False,
    out=sys.stdout,
) -> list[dict]:
    """The table. `exact` runs with glibc's default heap, as the official code does (its time is
    the one #23 compares against), unless `exact_reuse`: as a Coloria worker runs it, its freed
    blocks kept (ml.memory.reuse_freed_blocks), which shows what `fast` gains beyond that."""
    print(describe_machine(device), file=out)
    print(
        f"photos {PHOTO[0]} x {PHOTO[1]} and {LARGE_PHOTO[0]} x {LARGE_PHOTO[1]} (pipe 12MP); "
        f"each mode in fresh processes, as a worker runs it "
        f"({' '.join(ORDER)}: drift on a shared machine falls on both alike); times: medians "
        f"of {repeats * len(ORDER) // len(MODES)} after a warm-up and {SETTLING} untimed rounds; "
        "load + warm-up and peak RSS: the first process of each mode; exact with "
        + ("freed blocks kept, as a Coloria worker" if exact_reuse else "glibc's default heap, as "
           "the official code")
        + ", fast with freed blocks kept (ml.memory.reuse_freed_blocks)",
        file=out,
    )  # fmt: skip
    header = (
        f"{'model':<22} {'set':>4} {'net exact':>9} {'net fast':>8} {'ratio':>5} "
        f"{'pipe exact':>10} {'pipe fast':>9} {'ratio':>5} {'RSS MB e/f':>11} "
        f"{'load+warm s e/f':>15} {'12MP exact':>10} {'12MP fast':>9} {'ratio':>5} "
        f"{'12MP RSS e/f':>12}  path"
    )
    print(header, file=out, flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="coloria-bench-") as scratch:
        weights_dir = "" if installed else scratch
        for case in cases:
            model, _, setting = case.partition(":")
            if not installed and not _shipped(model):
                random_weights(model, Path(scratch))
            arguments = [model, setting or "0"]
            tail = [str(repeats), device, weights_dir]
            runs = [
                _run_child(["--inference-mode", *arguments, mode, *tail],
                           reuse_memory=mode == "fast" or exact_reuse)
                for mode in ORDER
            ]  # fmt: skip
            failed = next((r for r in runs if isinstance(r, str)), None)
            if failed is not None:
                print(f"{case}: failed: {failed}", file=out, flush=True)
                continue
            row = {"case": case, **_combined(runs)}
            rows.append(row)
            print(_format(row), file=out, flush=True)
    return rows


MODES = ("exact", "fast")
# The order of the processes: exact, fast, fast, exact, so that a machine growing busier or
# quieter over the run weighs on both modes alike. (Both modes in one process, in turns, made
# `exact` slower than alone, by a third for DDColor-T beside ONNX Runtime: a worker runs one.)
ORDER = ("exact", "fast", "fast", "exact")


def _combined(runs: list[dict]) -> dict:
    """The medians of each mode's times over its processes, and its first process's load +
    warm-up and peak memory (`loads`, exact then fast)."""
    row: dict[str, Any] = {}
    for mode in MODES:
        mine = [run for run, name in zip(runs, ORDER, strict=True) if name == mode]
        for part in ("net", "pipe", "pipe_large"):
            row[f"{part}_{mode}"] = statistics.median(t for run in mine for t in run[part])
        row.setdefault("loads", []).append(mine[0])
    row["path"] = row["loads"][1]["path"]
    return row


def _format(row: dict) -> str:
    model, _, setting = row["case"].partition(":")
    exact, fast = row["loads"]
    return (
        f"{model:<22} {setting or '-':>4} {_times(row, 'net', 9, 8)} {_times(row, 'pipe', 10, 9)} "
        f"{exact['peak_rss_mb']:>5.0f}/{fast['peak_rss_mb']:<5.0f} "
        f"{exact['load_warm_s']:>7.1f}/{fast['load_warm_s']:<7.1f} "
        f"{_times(row, 'pipe_large', 10, 9)} "
        f"{exact['peak_rss_large_mb']:>6.0f}/{fast['peak_rss_large_mb']:<5.0f}  {row['path']}"
    )


def _times(row: dict, part: str, exact_width: int, fast_width: int) -> str:
    """A part's exact and fast times and their ratio, as the table's three columns."""
    exact, fast = row[f"{part}_exact"], row[f"{part}_fast"]
    return f"{exact:>{exact_width}.3f} {fast:>{fast_width}.3f} {fast / exact:>5.2f}"


def child(argv: list[str]) -> bool:
    """Run a child's measurement if argv asks for one (ml.benchmark's main calls this)."""
    if argv[:1] != ["--inference-mode"]:
        return False
    model, setting, mode, repeats, device, weights_dir = argv[1:7]
    _mode_child(model, int(setting), mode, int(repeats), device, weights_dir)
    return True


# --- tolerance: fast against exact on real photos -------------------------------------------------

DEFAULT_TOLERANCE_MODELS = (
    "zhang-eccv16-coloria", "coloria-lite", "cnn-coloria", "zhang-eccv16", "zhang-siggraph17",
    "deoldify-artistic", "deoldify-stable", "bigcolor", "ddcolor-tiny", "ddcolor-paper",
)  # fmt: skip


def tolerance(
    models: list[str], photos: Path, *, limit: int, side: int, installed: bool, out=sys.stdout
) -> list[dict]:
    """Mean and max CIEDE2000 between `fast` and `exact` results, per model, on the photos
    (at most `limit`, each shrunk to at most `side` pixels). The shipped models use their own
    weights; the others their installed weights with --installed, else random ones in the
    official layout."""
    import numpy as np
    from PIL import Image

    import ml
    from ml import runtime
    from ml.metrics import delta_e00_map

    files = sorted(p for p in Path(photos).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    print(f"{len(files[:limit])} photos from {photos}, long side <= {side} px", file=out)
    print(f"{'model':<22} {'mean dE00':>9} {'max dE00':>9} {'worst photo mean':>16}", file=out)
    rows = []
    with tempfile.TemporaryDirectory(prefix="coloria-tolerance-") as scratch:
        for model in models:
            spec = ml.get_spec(model)
            if not installed and not _shipped(model):
                random_weights(model, Path(scratch))
            if not installed:  # the shipped weights are found besides (ml.weights)
                ml.configure(weights_dir=scratch)
            params = _params(model, 0)
            means, peak = [], 0.0
            for path in files[:limit]:
                image = Image.open(path)
                image.thumbnail((side, side))
                results = []
                for mode in MODES:
                    ml.configure(inference=mode)
                    results.append(np.asarray(ml.colorize(image, model=model, **params)))
                differences = delta_e00_map(results[1][..., :3], results[0][..., :3])
                means.append(float(differences.mean()))
                peak = max(peak, float(differences.max()))
            runtime.unload_all()
            row = {"model": model, "mean": float(np.mean(means)), "max": peak,
                   "worst_mean": max(means), "weights": spec.weights}  # fmt: skip
            rows.append(row)
            print(f"{model:<22} {row['mean']:>9.3f} {row['max']:>9.2f} {row['worst_mean']:>16.3f}",
                  file=out, flush=True)  # fmt: skip
    return rows


def add_arguments(parser: Any) -> None:
    """ml.benchmark's options for these measurements."""
    parser.add_argument(
        "--inference", nargs="*", metavar="MODEL[:SETTING]",
        help="exact against fast (ml.inference): network and pipeline times, memory, load + "
        "warm-up (default: every family at its usual sizes; SETTING: render factor or input size)",
    )  # fmt: skip
    parser.add_argument(
        "--tolerance", nargs="*", metavar="MODEL",
        help="fast against exact: mean and max CIEDE2000 on --photos (default: every family)",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, default=100, help="photos for --tolerance")
    parser.add_argument(
        "--exact-reuse", action="store_true",
        help="--inference: exact with its freed blocks kept too, as a Coloria worker runs it "
        "(default: glibc's default heap, as the official code runs)",
    )  # fmt: skip


def main(args: Any, parser: Any) -> int:
    """--inference or --tolerance, as ml.benchmark parsed them."""
    if args.tolerance is not None:
        if not args.photos:
            parser.error("--tolerance needs --photos")
        models = args.tolerance or list(DEFAULT_TOLERANCE_MODELS)
        rows = tolerance(models, args.photos, limit=args.limit, side=512, installed=args.installed)
        return 0 if rows else 1
    cases = args.inference or list(DEFAULT_CASES)
    rows = run(
        cases, repeats=args.repeats, device=args.device, installed=args.installed,
        exact_reuse=args.exact_reuse,
    )  # fmt: skip
    return 0 if rows else 1
