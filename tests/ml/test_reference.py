"""Colours from a reference photo, on photos whose colours are known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

import ml
from ml import metrics
from ml.errors import InvalidParameters


def _scene(seed: int = 0, width: int = 240, height: int = 160) -> np.ndarray:
    """A colour "landscape": blue sky over green hills with a red house, and some texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    horizon = height * 0.45 + 12 * np.sin(x / 25.0)
    rgb = np.zeros((height, width, 3), np.float32)
    rgb[y < horizon] = (110, 160, 230)
    rgb[y >= horizon] = (60, 140, 50)
    rgb[int(height * 0.55) : int(height * 0.8), int(width * 0.6) : int(width * 0.75)] = (
        190,
        40,
        30,
    )
    rgb *= 1 + 0.25 * (y / height)[..., None]  # lighter towards the bottom, as in sunlight
    rgb += rng.normal(0, 4, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_a_reference_equal_to_the_photo_gives_near_perfect_colours():
    truth = _scene()
    photo = Image.fromarray(truth).convert("L")
    result = np.asarray(ml.colorize(photo, "reference", reference=Image.fromarray(truth)))
    grey = metrics.delta_e00(metrics.grey_baseline(truth), truth)
    assert metrics.delta_e00(result, truth) < grey / 4


def test_a_flipped_and_cropped_reference_beats_half_of_grey_and_the_global_transfer():
    truth = _scene()
    reference = ImageOps.mirror(Image.fromarray(truth)).crop((24, 16, 216, 144))  # 20 % cropped
    photo = Image.fromarray(truth).convert("L")
    matched = np.asarray(ml.colorize(photo, "reference", reference=reference))
    baseline = np.asarray(ml.colorize(photo, "reference", reference=reference, method="global"))
    grey = metrics.delta_e00(metrics.grey_baseline(truth), truth)
    assert metrics.delta_e00(matched, truth) < grey / 2
    assert metrics.delta_e00(matched, truth) < metrics.delta_e00(baseline, truth)


def test_the_global_transfer_gives_the_references_mean_colour():
    reference = np.zeros((40, 40, 3), np.uint8)
    reference[:] = (200, 60, 40)
    photo = Image.new("L", (50, 30), 128)
    result = ml.colorize(photo, "reference", reference=Image.fromarray(reference), method="global")
    assert result.info["coloria"]["method"] == "global"
    r, g, b = np.asarray(result)[15, 25]
    assert r > g + 40 and r > b + 40


def test_the_reference_model_needs_a_reference_and_no_other_takes_one():
    photo = Image.new("L", (40, 30), 100)
    with pytest.raises(InvalidParameters, match="needs a reference photo"):
        ml.colorize(photo, "reference")
    with pytest.raises(InvalidParameters, match="does not take a reference photo"):
        ml.colorize(photo, "zhang-eccv16", reference=Image.fromarray(_scene()))
    with pytest.raises(InvalidParameters, match="must be one of: match, global"):
        ml.colorize(photo, "reference", reference=Image.fromarray(_scene()), method="magic")
