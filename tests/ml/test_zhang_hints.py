"""SIGGRAPH17 colour hints: they steer colour where they are placed and never change lightness."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2lab

import ml
from ml.errors import InvalidParameters
from tests.conftest import make_photo


def lab_of(image):
    return rgb2lab(np.asarray(image.convert("RGB")))


def test_hints_change_the_colour_near_the_point_and_keep_lightness(hint_model):
    photo = make_photo(200, 120, mode="L")
    automatic = lab_of(ml.colorize(photo, model=hint_model))
    hinted = lab_of(ml.colorize(photo, model=hint_model, hints=[(150, 30, (255, 0, 0))]))
    change = np.abs(hinted[..., 1:] - automatic[..., 1:]).sum(-1)
    near = change[20:40, 140:160].mean()
    far = change[90:120, 0:40].mean()
    assert near > 1.0, "the hint did not change the colour where it was placed"
    assert near > 2 * far
    original = lab_of(photo)[..., 0]
    assert np.abs(hinted[..., 0] - original).max() <= 1.0


def test_hints_accept_json_and_hex_colours(hint_model):
    photo = make_photo(64, 64)
    from_json = ml.colorize(photo, model=hint_model, hints='[[10, 10, "#00ff00"]]')
    from_tuple = ml.colorize(photo, model=hint_model, hints=[(10, 10, (0, 255, 0))])
    assert np.array_equal(np.asarray(from_json), np.asarray(from_tuple))


def test_bad_hints_are_refused(hint_model):
    with pytest.raises(InvalidParameters):
        ml.colorize(make_photo(), model=hint_model, hints="[[1, 2, [300, 0, 0]]]")
    with pytest.raises(InvalidParameters, match="not valid JSON"):
        ml.colorize(make_photo(), model=hint_model, hints="not json")
    with pytest.raises(InvalidParameters, match="must be finite numbers"):
        ml.colorize(make_photo(), model=hint_model, hints='[["nan", 2, "#ff0000"]]')
