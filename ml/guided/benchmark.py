"""Speed and quality of the colour scribbles: `python -m ml.benchmark --guided [--photos DIR]`.

Speed: generated photos of 0.3 to 24 megapixels, colorized by the scribbles (100 strokes) and
by the reference model (a generated 2-megapixel colour photo as the reference): the prediction
(for the scribbles the solve: building the system, factorising, solving), the whole
ml.colorize (reading the photo's gray, joining the colour to its full-resolution lightness), and
that with the PNG the site stores; median of 3 after a warm-up, in this process.
Quality (with --photos, a folder of colour photos such as the photo set's validation split): the
true colour given at 0.1 % and at 1 % of the working grid's cells, mean ΔE00 against the truth
beside leaving the photo grey.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZES_MP = (0.3, 1.0, 6.0, 12.0, 24.0)
SHARES = (0.001, 0.01)


def _photo(megapixels: float) -> Image.Image:
    """A 4:3 generated photo: smooth shapes with blocky texture, edges for the solver to follow."""
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    y, x = np.ogrid[:height, :width]
    smooth = 128 + 60 * np.sin(x / (width / 7)) * np.cos(y / (height / 5))
    blocks = np.random.default_rng(0).normal(0, 12, (height // 8 + 1, width // 8 + 1))
    texture = np.kron(blocks, np.ones((8, 8)))[:height, :width]
    return Image.fromarray(np.clip(smooth + texture, 0, 255).astype(np.uint8))


def _colour_photo(megapixels: float) -> Image.Image:
    """A 4:3 generated colour photo (the reference model's): coloured regions with texture."""
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    y, x = np.ogrid[:height, :width]
    red = 120 + 80 * np.sin(x / (width / 5)) + 0 * y
    green = 110 + 70 * np.cos(y / (height / 3)) + 0 * x
    rgb = np.stack([red, green, 100 + 60 * np.sin((x + y) / (width / 4))], axis=-1)
    rgb = rgb + np.random.default_rng(1).normal(0, 10, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _strokes(width: int, height: int, count: int = 100) -> list[dict]:
    rng = np.random.default_rng(0)
    strokes = []
    for _ in range(count):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        points = [[float(np.clip(x + dx, 0, width)), float(np.clip(y + dy, 0, height))]
                  for dx, dy in rng.normal(0, width / 40, (5, 2)).cumsum(axis=0)]  # fmt: skip
        strokes.append({"points": points, "color": rng.integers(0, 256, 3).tolist(),
                        "width": width / 150})  # fmt: skip
    return strokes


def measure_speed(sizes_mp: tuple[float, ...] = SIZES_MP, out=sys.stdout) -> list[dict]:
    """Per photo size, for each guided model: its prediction alone, the whole ml.colorize, and
    ml.colorize with the PNG the site stores (ml.color.encode_png)."""
    from ml.color import to_gray
    from ml.guided.reference import ReferencePredictor
    from ml.guided.scribbles import ScribblesPredictor, working_shape

    reference = _colour_photo(2.0)
    predictors = {"scribbles": ScribblesPredictor(None, "cpu"),
                  "reference": ReferencePredictor(None, "cpu")}  # fmt: skip
    rows = []
    print("guided models (scribbles: 100 strokes; reference: a 2 MP colour photo), median of 3 "
          "after a warm-up", file=out)  # fmt: skip
    print(f"  {'model':<10} {'photo MP':>8} {'working':>10} {'predict s':>10} {'colorize s':>11} "
          f"{'+ PNG s':>8}", file=out)  # fmt: skip
    for megapixels in sizes_mp:
        image = _photo(megapixels)
        gray = to_gray(image)
        grid = working_shape(*gray.shape)
        for name, predictor in predictors.items():
            params = ({"hints": _strokes(*image.size)} if name == "scribbles"
                      else {"reference": reference, "method": "match"})  # fmt: skip
            row = {"model": name, "megapixels": megapixels, "working": f"{grid[1]}×{grid[0]}",
                   **_timed(name, predictor, image, gray, params)}  # fmt: skip
            rows.append(row)
            print(f"  {name:<10} {megapixels:>8.1f} {row['working']:>10} {row['solve']:>10.2f} "
                  f"{row['colorize']:>11.2f} {row['with_png']:>8.2f}", file=out,
                  flush=True)  # fmt: skip
    return rows


def _timed(name: str, predictor, image: Image.Image, gray: np.ndarray, params: dict) -> dict:
    """Median seconds of 3, after a warm-up: the prediction, ml.colorize, and with the PNG."""
    import ml
    from ml.color import encode_png

    predictor.predict(gray, **params)  # warm-up
    solve, total, stored = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        predictor.predict(gray, **params)
        solve.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = ml.colorize(image, name, **params)
        total.append(time.perf_counter() - started)
        encode_png(result)
        stored.append(time.perf_counter() - started)
    return {"solve": statistics.median(solve), "colorize": statistics.median(total),
            "with_png": statistics.median(stored)}  # fmt: skip


def measure_reference(photos: Path, limit: int = 20, out=sys.stdout) -> dict[str, float]:
    """Colours from a reference photo: mean ΔE00 and colourfulness with the photo itself as the
    reference (mirrored, 20 % cropped) and with the next photo of the folder, against grey and
    Reinhard's global transfer; seconds per photo."""
    import ml
    from ml import metrics
    from ml.evaluate.measure import guidance
    from ml.registry import get_spec

    spec = get_spec("reference")
    every = sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    paths = every[:limit]
    alike = _most_alike(paths, every)
    rows: dict[str, list[tuple[float, float]]] = {}
    seconds = []
    for index, path in enumerate(paths):
        truth = np.asarray(Image.open(path).convert("RGB"))
        gray = Image.fromarray(metrics.gray_version(truth))
        own = guidance(spec, truth, 0)["reference"]
        other = Image.open(paths[(index + 1) % len(paths)]).convert("RGB")
        runs = {"grey": metrics.grey_baseline(truth)}
        started = time.perf_counter()
        runs["self, matched"] = ml.colorize(gray, "reference", reference=own)
        seconds.append(time.perf_counter() - started)
        runs["self, global (Reinhard)"] = ml.colorize(gray, "reference", reference=own,
                                                      method="global")  # fmt: skip
        runs["another photo, matched"] = ml.colorize(gray, "reference", reference=other)
        scene = Image.open(alike[index]).convert("RGB")
        runs["same kind of scene, matched"] = ml.colorize(gray, "reference", reference=scene)
        runs["same kind, global (Reinhard)"] = ml.colorize(gray, "reference", reference=scene,
                                                           method="global")  # fmt: skip
        for name, output in runs.items():
            output = np.asarray(output)
            rows.setdefault(name, []).append(
                (metrics.delta_e00(output, truth), metrics.colourfulness(output))
            )
    truth_colour = np.mean([metrics.colourfulness(np.asarray(Image.open(p).convert("RGB")))
                            for p in paths])  # fmt: skip
    print(f"\ncolours from a reference photo, {len(paths)} photos of {photos}: mean ΔE00 "
          f"(colourfulness; truth {truth_colour:.1f}), {statistics.median(seconds):.1f} s a photo",
          file=out)  # fmt: skip
    means = {}
    for name, values in rows.items():
        means[name] = float(np.mean([v[0] for v in values]))
        colour = float(np.mean([v[1] for v in values]))
        print(f"  {name:<26} {means[name]:6.2f} ({colour:.1f})", file=out)
    return means


def _most_alike(paths: list[Path], candidates: list[Path]) -> list[Path]:
    """For each photo, the other candidate most alike in ImageNet features (cosine similarity of
    EfficientNet-Lite0's pooled last features): a stand-in for "a photo of the same kind of
    scene" that a visitor would choose as the reference."""
    import torch

    from ml.models.efficientnet_lite import pretrained

    network = pretrained("lite0", head=False)  # it scales [0, 1] RGB the ImageNet way itself

    def embedding(path: Path) -> torch.Tensor:
        image = Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)
        with torch.inference_mode():
            deepest = network.features(pixels[None])[-1]
        return torch.nn.functional.normalize(deepest.mean(dim=(2, 3))[0], dim=0)

    vectors = torch.stack([embedding(path) for path in candidates])
    chosen = []
    for path in paths:
        similarity = vectors @ vectors[candidates.index(path)]
        similarity[candidates.index(path)] = -2  # never the photo itself
        chosen.append(candidates[int(similarity.argmax())])
    return chosen


def measure_quality(photos: Path, limit: int = 20, out=sys.stdout) -> dict[float, float]:
    """Mean ΔE00 with the true colour at each share of the working grid, and grey's."""
    from ml import metrics
    from ml.color import Chroma, compose, rgb_to_lab
    from ml.guided.propagate import propagate
    from ml.guided.scribbles import working_lightness

    paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    scores: dict[float, list[float]] = {share: [] for share in (0.0, *SHARES)}
    rng = np.random.default_rng(0)
    for path in paths[:limit]:
        truth = np.asarray(Image.open(path).convert("RGB"))
        gray = metrics.gray_version(truth).astype(np.float32) / 255.0
        lightness = working_lightness(gray)
        rows, cols = lightness.shape
        small = Image.fromarray(truth).resize((cols, rows), Image.Resampling.BOX)
        lab = rgb_to_lab(np.asarray(small, dtype=np.float32) / 255.0)
        scores[0.0].append(metrics.delta_e00(metrics.grey_baseline(truth), truth))
        for share in SHARES:
            known = rng.random((rows, cols)) < share
            ab = propagate(lightness, known, lab[..., 1:])
            scores[share].append(metrics.delta_e00(np.asarray(compose(gray, Chroma(ab=ab))), truth))
    means = {share: float(np.mean(values)) for share, values in scores.items()}
    print(f"\nquality on {min(limit, len(paths))} photos of {photos} (mean ΔE00, lower is better)",
          file=out)  # fmt: skip
    print(f"  grey (no colour): {means[0.0]:.2f}", file=out)
    for share in SHARES:
        print(f"  true colour at {share:.1%} of the cells: {means[share]:.2f}", file=out)
    return means
