"""Zhang et al.'s 313 colour classes: the ab bin centres a classifying colorizer predicts over.

Coloria's own bins are the 313 cells of the 10-unit ab grid that lie nearest the sRGB gamut (the
official ECCV16 file carries its own, in its last layer).
"""

from __future__ import annotations

import numpy as np

from ml.color import lab_to_linear_rgb

NUM_AB_BINS = 313
GRID_STEP = 10
GRID = np.arange(-110, 111, GRID_STEP, dtype=np.float32)  # 23 values: 529 cells


def _gamut_fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each (a, b): the largest fraction of it that some lightness can show in sRGB (≤ 1)."""
    lightness = np.linspace(1, 99, 50, dtype=np.float32)
    L = np.repeat(lightness[None], len(a), 0)
    low = np.zeros_like(L)
    high = np.full_like(L, 1.0)
    for _ in range(20):
        mid = (low + high) / 2
        lab = np.stack([L, a[:, None] * mid, b[:, None] * mid], axis=-1)
        rgb = lab_to_linear_rgb(lab)
        fits = np.all((rgb >= 0) & (rgb <= 1), axis=-1)
        low = np.where(fits, mid, low)
        high = np.where(fits, high, mid)
    return low.max(axis=1)


def ab_bins(count: int = NUM_AB_BINS) -> np.ndarray:
    """`count` bin centres (count × 2): in-gamut grid cells first, then those nearest the gamut."""
    a, b = (g.ravel() for g in np.meshgrid(GRID, GRID, indexing="ij"))
    fit = np.round(_gamut_fit(a, b), 3)
    radius = np.hypot(a, b)
    order = np.lexsort((b, a, radius, -fit))  # best fit first, then nearer neutral
    return np.stack([a[order[:count]], b[order[:count]]], axis=1).astype(np.float32)
