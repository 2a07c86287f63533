"""ml.colorize: the public entry point, its errors and its per-process model cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

import ml
from ml import runtime
from ml.errors import InvalidParameters, UnknownModel, WeightsNotInstalled
from tests.conftest import encode, make_photo


def test_colorize_keeps_size_and_lightness_and_adds_colour():
    photo = make_photo(100, 70, mode="L")
    result = ml.colorize(encode(photo), model="zhang-eccv16")
    assert result.size == photo.size and result.mode == "RGB"
    lab = rgb2lab(np.asarray(result))
    assert np.abs(lab[..., 0] - rgb2lab(np.asarray(photo.convert("RGB")))[..., 0]).max() <= 1.0
    assert np.abs(lab[..., 1:]).max() > 0.5


def test_a_transparent_cut_out_keeps_its_transparency():
    photo = make_photo(80, 60, mode="L").convert("LA")
    alpha = np.zeros((60, 80), np.uint8)
    alpha[10:50, 20:60] = 255  # an opaque object on a transparent background
    photo.putalpha(Image.fromarray(alpha))
    result = ml.colorize(photo, model="zhang-eccv16")
    assert result.mode == "RGBA" and np.array_equal(np.asarray(result)[..., 3], alpha)
    opaque = photo.copy()
    opaque.putalpha(255)  # an alpha channel with nothing transparent: plain RGB out
    assert ml.colorize(opaque, model="zhang-eccv16").mode == "RGB"


def test_a_model_is_loaded_once_per_process(monkeypatch):
    from ml.models import zhang

    built = []
    original_init = zhang.ZhangPredictor.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(zhang.ZhangPredictor, "__init__", counting_init)
    for seed in range(3):
        ml.colorize(make_photo(seed=seed), model="zhang-eccv16")
    assert len(built) == 1


def test_temperature_changes_the_colours():
    photo = make_photo(64, 64)
    plain = np.asarray(ml.colorize(photo, model="zhang-eccv16"), dtype=float)
    annealed = np.asarray(ml.colorize(photo, model="zhang-eccv16", temperature=0.38), dtype=float)
    assert np.abs(plain - annealed).mean() > 0.1


def test_errors_are_readable():
    with pytest.raises(UnknownModel, match="Unknown model 'nope'"):
        ml.colorize(make_photo(), model="nope")
    with pytest.raises(InvalidParameters, match=r"between 0\.1 and 1"):
        ml.colorize(make_photo(), model="zhang-eccv16", temperature=5)
    for value in ("nan", "inf", float("nan")):  # they parse as floats but are no temperature
        with pytest.raises(InvalidParameters, match="is not a number"):
            ml.colorize(make_photo(), model="zhang-eccv16", temperature=value)
    with pytest.raises(WeightsNotInstalled, match="fetch_weights zhang-siggraph17"):
        ml.colorize(make_photo(), model="zhang-siggraph17")


def test_ml_never_imports_django_and_listing_models_imports_no_framework():
    code = (
        "import sys, ml; ml.list_models(); "
        "bad = [m for m in ('django', 'torch', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_unload_all_forgets_models():
    ml.colorize(make_photo(), model="zhang-eccv16")
    assert runtime._LOADED
    runtime.unload_all()
    assert not runtime._LOADED
