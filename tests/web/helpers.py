"""Checks shared by the web tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage.color import rgb2lab


def assert_is_colorization_of(result_png: bytes, original: Image.Image) -> None:
    """The result has the original's size and lightness (within 1 L* unit) and real colour."""
    result = Image.open(io.BytesIO(result_png))
    assert result.size == original.size
    result_lab = rgb2lab(np.asarray(result.convert("RGB")))
    original_lab = rgb2lab(np.asarray(original.convert("RGB")))
    assert np.abs(result_lab[..., 0] - original_lab[..., 0]).max() <= 1.0
    assert np.abs(result_lab[..., 1:]).max() > 0.5, "the model added no colour"
