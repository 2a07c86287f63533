"""The whole pipeline per stage, on photos of 1, 12 and 24 megapixels (`python -m ml.benchmark
--pipeline --stages`, or `python -m ml.pipeline_benchmark`); compose compiled against numpy's
passes (`python -m ml.pipeline_benchmark --compose`).

What a worker does with a job, stage by stage: decode the uploaded JPEG (`open_image`), read
its gray values (`to_gray`), the model's prediction at its working size, `compose` (chroma
upsampled and joined to the full-resolution lightness), the transparency check, and the PNG the
site stores (`encode_png`, at the compress level the site uses). Each row also gives the CPU
seconds of the whole, every thread's: on cores shared with other jobs they vary far less than
the wall time, and beside it they show how much ran in parallel. Models: the two guided ones
(colour scribbles with 100 strokes, a reference photo) and a shipped network (its own installed
weights), whose prediction is small beside the rest at these sizes. Median of `repeats` after a
warm-up on a small photo, in this process.

The generated photo is a sepia-tinted scan saved as an RGB JPEG (quality 90): most uploads are,
and it takes to_gray's colour path, the costlier one.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

SIZES_MP = (1.0, 12.0, 24.0, 40.0)  # 40: the site's default limit (COLORIA_MAX_MEGAPIXELS)
MODELS = ("scribbles", "reference", "coloria-lite")
STAGES = ("decode", "to_gray", "predict", "compose", "alpha", "png")


def photo_jpeg(megapixels: float, seed: int = 0) -> bytes:
    """A 3:2 sepia-tinted generated photo as JPEG bytes: smooth shapes, blocky texture, edges."""
    width = round((megapixels * 1e6 * 3 / 2) ** 0.5)
    height = round(width * 2 / 3)
    y, x = np.ogrid[:height, :width]
    smooth = 128 + 60 * np.sin(x / (width / 7)) * np.cos(y / (height / 5))
    blocks = np.random.default_rng(seed).normal(0, 12, (height // 8 + 1, width // 8 + 1))
    gray = smooth + np.kron(blocks, np.ones((8, 8)))[:height, :width]
    tint = np.array([1.0, 0.93, 0.8])  # sepia
    rgb = np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def reference_jpeg(megapixels: float = 2.0) -> bytes:
    """A colour reference photo: coloured regions with texture."""
    width = round((megapixels * 1e6 * 3 / 2) ** 0.5)
    height = round(width * 2 / 3)
    y, x = np.ogrid[:height, :width]
    rng = np.random.default_rng(1)
    rgb = np.stack(
        [
            120 + 80 * np.sin(x / (width / 5)) + 0 * y,
            110 + 70 * np.cos(y / (height / 3)) + 0 * x,
            100 + 60 * np.sin((x + y) / (width / 4)),
        ],
        axis=-1,
    ) + rng.normal(0, 10, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _model_params(model: str, width: int, height: int) -> dict[str, Any]:
    if model == "scribbles":
        from ml.guided.benchmark import _strokes

        return {"hints": _strokes(width, height)}
    return {}


def _png(image: Image.Image) -> bytes:
    """The site's encoding of a result (ml.color.encode_png where this code has it)."""
    from ml import color

    if hasattr(color, "encode_png"):
        return color.encode_png(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run_stages(model: str, photo: bytes, reference: bytes) -> tuple[dict[str, float], int]:
    """One colorization of `photo` (JPEG bytes) by `model`, stage by stage: (seconds per stage,
    and "cpu", the CPU seconds of the whole, every thread's; PNG bytes). The same steps as
    ml.colorize."""
    from ml import get_spec, lightness_beside, runtime
    from ml.color import alpha_of, compose, open_image, to_gray

    spec = get_spec(model)
    times: dict[str, float] = {}

    def timed(stage: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = call()
        times[stage] = time.perf_counter() - started
        return value

    started = time.process_time()
    source = timed("decode", lambda: open_image(photo))
    gray = timed("to_gray", lambda: to_gray(source))
    params = spec.clean_params(_model_params(model, source.width, source.height))
    if spec.needs_reference:
        params["reference"] = open_image(reference)
    with runtime.in_use(spec, "cpu") as predictor:
        lightness = lightness_beside(predictor, gray)
        chroma = timed("predict", lambda: predictor.predict(gray, **params))
    known = lightness.finish if lightness else lambda: None  # its wait counts in compose's time
    image = timed("compose", lambda: compose(gray, chroma, known()))
    timed("alpha", lambda: alpha_of(source))
    png = timed("png", lambda: _png(image))
    times["cpu"] = time.process_time() - started
    return times, len(png)


def measure(
    models: tuple[str, ...] = MODELS,
    sizes_mp: tuple[float, ...] = SIZES_MP,
    repeats: int = 3,
    out=sys.stdout,
) -> list[dict[str, Any]]:
    """The stage table: one row per (model, photo size), median seconds per stage."""
    import ml

    reference = reference_jpeg()
    print(f"whole pipeline per stage, median of {repeats} after a warm-up (seconds; cpu: CPU "
          "seconds of all threads, steadier than wall time on shared cores)", file=out)  # fmt: skip
    header = "".join(f"{stage:>9}" for stage in STAGES)
    print(f"  {'model':<14} {'MP':>5}{header}{'total':>9}{'cpu':>7}{'PNG MB':>8}", file=out,
          flush=True)  # fmt: skip
    rows = []
    for model in models:
        try:
            run_stages(model, photo_jpeg(0.05), reference)  # warm-up: loading, caches
        except ml.ColorizeError as exc:
            print(f"  {model:<14} skipped: {exc}", file=out)
            continue
        for megapixels in sizes_mp:
            photo = photo_jpeg(megapixels)
            runs = [run_stages(model, photo, reference) for _ in range(repeats)]
            median = {s: statistics.median(r[0][s] for r in runs) for s in STAGES}
            total = statistics.median(sum(r[0][s] for s in STAGES) for r in runs)
            cpu = statistics.median(r[0]["cpu"] for r in runs)
            row = {"model": model, "megapixels": megapixels, **median, "total": total,
                   "cpu": cpu, "png_mb": runs[0][1] / 1e6}  # fmt: skip
            rows.append(row)
            cells = "".join(f"{median[s]:>9.3f}" for s in STAGES)
            print(f"  {model:<14} {megapixels:>5g}{cells}{total:>9.3f}{cpu:>7.2f}"
                  f"{row['png_mb']:>8.1f}", file=out, flush=True)  # fmt: skip
    return rows


def measure_png_levels(
    megapixels: float = 12.0,
    levels: tuple[int, ...] = (1, 2, 3),
    models: tuple[str, ...] = ("scribbles", "coloria-lite"),
    out=sys.stdout,
) -> list[dict[str, Any]]:
    """Seconds (wall and CPU) and size of results' PNG at each zlib compress level, by Pillow
    (one core, its per-row filter choice) and by ml.png (every core, the Paeth filter): a guided
    result (sharp, colourful strokes) and a network's (smoother colour)."""
    from ml import get_spec, png, runtime
    from ml.color import compose, open_image, to_gray

    source = open_image(photo_jpeg(megapixels))
    gray = to_gray(source)
    print(f"PNG of a {megapixels:g} MP result, median of 3 (wall s / CPU s, MB)", file=out)
    results = []
    for model in models:
        spec = get_spec(model)
        params = spec.clean_params(_model_params(model, source.width, source.height))
        image = compose(gray, runtime.load_predictor(spec, "cpu").predict(gray, **params))
        for level in levels:
            pillow = _timed_encoding(_pillow_png, image, level)
            ours = _timed_encoding(png.encode, image, level)
            row = {"model": model, "level": level, "seconds": pillow[0], "cpu": pillow[1],
                   "mb": pillow[2], "ml_png_seconds": ours[0], "ml_png_cpu": ours[1],
                   "ml_png_mb": ours[2]}  # fmt: skip
            results.append(row)
            print(f"  {model:<14} level {level}: Pillow {pillow[0]:.2f} / {pillow[1]:.2f} s, "
                  f"{pillow[2]:.2f} MB; ml.png {ours[0]:.2f} / {ours[1]:.2f} s, {ours[2]:.2f} MB",
                  file=out, flush=True)  # fmt: skip
    return results


def measure_compose(
    sizes_mp: tuple[float, ...] = SIZES_MP, model: str = "coloria-lite", out=sys.stdout
) -> list[dict[str, Any]]:
    """compose's seconds with its compiled loops (ml.compose_kernels) and by numpy's passes (as
    where Numba is not installed), in turns in this process, medians of 5: a network's result
    on a sepia scan saved as colour (its gray computed by formula) and on a grayscale scan
    (8-bit gray: its L* by table)."""
    from ml import compose_kernels, get_spec, runtime
    from ml.color import compose, open_image, to_gray

    print(f"compose of {model}'s result, median of 5 (seconds): compiled, numpy, ratio", file=out)
    spec, results = get_spec(model), []
    predictor = runtime.load_predictor(spec, "cpu")
    compiled = compose_kernels.kernels
    for megapixels in sizes_mp:
        scan = open_image(photo_jpeg(megapixels))
        for kind, gray in (
            ("colour scan", to_gray(scan)),
            ("gray scan", to_gray(scan.convert("L"))),
        ):
            chroma = predictor.predict(gray, **spec.clean_params({}))
            times: dict[str, list[float]] = {"compiled": [], "numpy": []}
            try:
                for _ in range(6):  # the first round untimed
                    for way, kernels in (("compiled", compiled), ("numpy", lambda: None)):
                        compose_kernels.kernels = kernels
                        started = time.perf_counter()
                        compose(gray, chroma)
                        times[way].append(time.perf_counter() - started)
            finally:  # the process's compose compiled again, whatever happened
                compose_kernels.kernels = compiled
            fast, slow = (statistics.median(times[way][1:]) for way in ("compiled", "numpy"))
            results.append(
                {"megapixels": megapixels, "kind": kind, "compiled": fast, "numpy": slow}
            )
            print(f"  {megapixels:>5g} MP {kind:<12} {fast:7.3f} {slow:7.3f} {fast / slow:6.2f}",
                  file=out, flush=True)  # fmt: skip
    return results


def _pillow_png(image: Image.Image, level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def _timed_encoding(
    encode: Callable[[Image.Image, int], bytes], image: Image.Image, level: int
) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and megabytes of 3 encodings."""
    walls, cpus, size = [], [], 0
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        size = len(encode(image, level))
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), size / 1e6


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--png"]:
        measure_png_levels()
    elif arguments[:1] == ["--compose"]:
        measure_compose()
    else:
        chosen = tuple(arguments) or MODELS
        measure(models=chosen)
