"""The `scribbles` model: colour strokes and points spread over the photo (ml.guided.propagate).

It needs no weights. The photo is solved at a working size of about WORKING_PIXELS pixels and
the colour is joined to its full-resolution lightness by ml.colorize, as for every model. Given
the chroma of an earlier result (`base`), it refines that result: only what the strokes touch,
and what their colour spreads to inside the same regions, changes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ml.color import Chroma, gray_to_lightness, resize_bilinear, rgb_to_lab
from ml.errors import InvalidParameters
from ml.guided.propagate import propagate
from ml.registry import Stroke, clean_hints

# 0.12 megapixels solve in about a second on 2 CPU cores (python -m ml.benchmark --guided);
# colour needs less resolution than lightness, which stays the photo's own.
WORKING_PIXELS = 120_000
POINT_WIDTH = 5.0  # a clicked point covers this many photo pixels across (at least one cell)
# Refining: how far a stroke's change reaches inside a smooth region before it has faded to
# 1/e, as a share of the photo's size (edges stop it much sooner).
REACH = 0.15


def working_shape(height: int, width: int, pixels: int = WORKING_PIXELS) -> tuple[int, int]:
    """The grid the colour is solved on: the photo's aspect, at most `pixels` cells."""
    scale = min(1.0, math.sqrt(pixels / (height * width)))
    return max(1, math.floor(height * scale)), max(1, math.floor(width * scale))


def working_lightness(gray: np.ndarray) -> np.ndarray:
    """The photo's L* (0-100) on its working grid (box-averaged gray values)."""
    rows, cols = working_shape(*gray.shape)
    values = np.ascontiguousarray(gray, dtype=np.float32)
    if values.size and (values.min() < 0 or values.max() > 1):  # to_gray's never are
        values = np.clip(values, 0, 1)
    # Pillow reads the array in place (no copy of a 24-megapixel photo's 96 MB).
    image = Image.frombuffer("F", (values.shape[1], values.shape[0]), values, "raw", "F", 0, 1)
    return gray_to_lightness(np.asarray(image.resize((cols, rows), Image.Resampling.BOX)))


def rasterize(
    hints: list[Any], photo_shape: tuple[int, int], grid_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The cells the hints cover (h, w bool) and their ab colour (h, w, 2) on the working grid.

    Later hints paint over earlier ones, as on a canvas."""
    (height, width), (rows, cols) = photo_shape, grid_shape
    scale_x, scale_y = cols / width, rows / height
    labels = Image.new("I", (cols, rows), 0)  # 0: nothing; n: the n-th colour
    draw = ImageDraw.Draw(labels)
    colours = []
    for number, hint in enumerate(hints, start=1):
        if isinstance(hint, Stroke):
            points, colour, size = hint.points, hint.color, hint.width
        else:
            points, colour, size = ((hint[0], hint[1]),), hint[2], POINT_WIDTH
        colours.append(colour)
        cells = [(x * scale_x, y * scale_y) for x, y in points]
        thickness = max(1.0, size * scale_x)
        if len(cells) > 1:
            draw.line(cells, fill=number, width=max(1, round(thickness)), joint="curve")
        radius = thickness / 2
        for x, y in (cells[0], cells[-1]) if len(cells) > 1 else cells:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=number)
    painted = np.asarray(labels, dtype=np.int64)
    known = painted > 0
    palette = np.zeros((len(colours) + 1, 2), dtype=np.float32)
    if colours:
        palette[1:] = rgb_to_lab(np.asarray(colours, dtype=np.float32) / 255.0)[:, 1:]
    return known, palette[painted]


class ScribblesPredictor:
    """Predicts chroma from strokes alone, or refines a base chroma with them."""

    # SuperLU solves on one core: ml.colorize computes the photo's full-resolution lightness on
    # the other cores meanwhile.
    single_threaded = True

    def __init__(self, weights: Path | None, device: str, **_: Any) -> None:
        self.device = "cpu"  # a sparse solve: SciPy on the CPU, whatever device the site has

    def predict(
        self, gray: np.ndarray, hints: list[Any] | None = None, base: np.ndarray | None = None,
        **_: Any,
    ) -> Chroma:  # fmt: skip
        hints = clean_hints(hints or [])
        if not hints and base is None:
            raise InvalidParameters("Colour scribbles need at least one stroke or point.")
        lightness = working_lightness(gray)
        rows, cols = lightness.shape
        known, values = rasterize(hints, gray.shape, (rows, cols))
        prior = None if base is None else resize_bilinear(base, rows, cols)
        reach = REACH * math.sqrt(rows * cols)
        ab = propagate(lightness, known, values, prior=prior, prior_weight=1.0 / reach**2)
        return Chroma(ab=ab, details={"working_size": f"{cols}×{rows}", "strokes": len(hints)})
