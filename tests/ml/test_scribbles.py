"""Colour scribbles (Levin, Lischinski & Weiss 2004) on synthetic photos whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ml
from ml import metrics
from ml.color import Chroma, compose, rgb_to_lab, to_gray
from ml.errors import InvalidParameters
from ml.guided.propagate import propagate
from ml.guided.scribbles import WORKING_PIXELS, ScribblesPredictor, rasterize, working_shape
from ml.registry import Stroke, clean_hints

RED, BLUE = (200, 40, 40), (40, 70, 200)


def _ab(rgb: tuple[int, int, int]) -> np.ndarray:
    return rgb_to_lab(np.array(rgb, dtype=np.float32) / 255.0)[1:]


def _expected(gray: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """The photo's own lightness with the colour's a, b everywhere: what a scribble asks for."""
    flat = np.broadcast_to(_ab(rgb), (*gray.shape, 2)).copy()
    return np.asarray(compose(gray, Chroma(ab=flat)))


def _two_regions(width: int = 240, height: int = 160) -> Image.Image:
    gray = np.full((height, width), 90, np.uint8)
    gray[:, width // 2 :] = 170
    return Image.fromarray(gray)


def test_each_region_takes_the_colour_of_its_scribble_and_the_edge_holds():
    photo = _two_regions()
    strokes = [
        {"points": [[30, 40], [60, 120]], "color": "#c82828", "width": 6},
        {"points": [[200, 30], [170, 130]], "color": list(BLUE), "width": 6},
    ]
    result = np.asarray(ml.colorize(photo, "scribbles", hints=strokes))
    gray = to_gray(photo)
    left, right = result[:, :120], result[:, 120:]
    assert metrics.delta_e00_map(left, _expected(gray, RED)[:, :120]).max() < 2.0
    assert metrics.delta_e00_map(right, _expected(gray, BLUE)[:, 120:]).max() < 2.0
    # Right at the edge each side keeps its own colour (no bleeding across it).
    assert metrics.delta_e00_map(result[:, 118:119], _expected(gray, RED)[:, 118:119]).max() < 3
    assert metrics.delta_e00_map(result[:, 121:122], _expected(gray, BLUE)[:, 121:122]).max() < 3


def test_a_gradient_with_scribbles_at_both_ends_changes_colour_monotonically():
    ramp = np.tile(np.linspace(60, 200, 300, dtype=np.float32), (60, 1)).astype(np.uint8)
    strokes = [[5, 30, list(RED)], [295, 30, list(BLUE)]]
    chroma = ScribblesPredictor(None, "cpu").predict(ramp / 255.0, hints=strokes)
    along = chroma.ab[30]  # the solved a, b along the ramp, before the photo's L joins them
    assert np.allclose(along[0], _ab(RED), atol=0.5) and np.allclose(along[-1], _ab(BLUE), atol=0.5)
    steps = np.diff(along, axis=0)
    assert np.all(steps[:, 1] <= 1e-3), "b must fall all the way from red to blue"
    assert np.all(steps[:, 0] >= -1e-3) or np.all(steps[:, 0] <= 1e-3), "a must go one way"


def test_refining_changes_the_stroked_region_and_leaves_the_rest_as_the_model_made_it():
    photo = _two_regions()
    gray = to_gray(photo)
    base = Image.fromarray(_expected(gray, (60, 150, 60)))  # "a model" made both halves green
    stroke = [{"points": [[20, 80], [90, 80]], "color": list(RED), "width": 8}]
    result = np.asarray(ml.colorize(photo, "scribbles", hints=stroke, base=base))
    # Along the stroke the photo turns red; across the edge it stays within 1 ΔE00 of the base.
    along = (slice(76, 85), slice(20, 91))
    assert metrics.delta_e00_map(result[along], _expected(gray, RED)[along]).max() < 2.0
    assert metrics.delta_e00_map(result[:, 120:], np.asarray(base)[:, 120:]).max() < 1.0


def test_far_pixels_of_the_same_smooth_region_keep_the_models_colour():
    gray_values = np.full((200, 600), 128, np.uint8)
    photo = Image.fromarray(gray_values)
    base = Image.fromarray(_expected(to_gray(photo), (60, 150, 60)))
    stroke = [{"points": [[30, 100], [90, 100]], "color": list(RED), "width": 10}]
    result = np.asarray(ml.colorize(photo, "scribbles", hints=stroke, base=base))
    assert metrics.delta_e00_map(result[:, 450:], np.asarray(base)[:, 450:]).max() < 1.0
    along = (slice(96, 105), slice(30, 91))
    assert metrics.delta_e00_map(result[along], _expected(to_gray(photo), RED)[along]).max() < 2


def test_true_colour_at_a_few_pixels_restores_a_photo_far_better_than_grey():
    rng = np.random.default_rng(0)
    truth = np.zeros((120, 160, 3), np.uint8)
    truth[:60, :80] = (200, 60, 50)
    truth[:60, 80:] = (60, 160, 70)
    truth[60:, :80] = (60, 80, 190)
    truth[60:, 80:] = (220, 200, 60)
    truth = np.clip(truth + rng.normal(0, 3, truth.shape), 0, 255).astype(np.uint8)
    photo = Image.fromarray(truth).convert("L")
    ys, xs = rng.integers(0, 120, 20), rng.integers(0, 160, 20)  # 0.1 % of the pixels
    hints = [[int(x), int(y), truth[y, x].tolist()] for x, y in zip(xs, ys, strict=True)]
    result = np.asarray(ml.colorize(photo, "scribbles", hints=hints))
    grey = metrics.delta_e00(metrics.grey_baseline(truth), truth)
    assert metrics.delta_e00(result, truth) < grey / 3


def test_no_known_pixel_gives_no_colour_and_a_prior_is_kept():
    lightness = np.tile(np.linspace(20, 80, 50, dtype=np.float32), (30, 1))
    known = np.zeros((30, 50), bool)
    assert not propagate(lightness, known, np.zeros((30, 50, 2))).any()
    prior = np.full((30, 50, 2), 7.0, np.float32)
    assert np.array_equal(propagate(lightness, known, np.zeros((30, 50, 2)), prior=prior), prior)


def test_strokes_are_drawn_onto_the_working_grid_later_ones_on_top():
    hints = clean_hints([
        {"points": [[0, 50], [400, 50]], "color": list(RED), "width": 20},
        [200, 50, list(BLUE)],
    ])  # fmt: skip
    known, values = rasterize(hints, (100, 400), (50, 200))
    assert known[25, 5] and known[25, 195] and not known[5, 100]
    assert np.allclose(values[25, 5], _ab(RED), atol=0.01)
    assert np.allclose(values[25, 100], _ab(BLUE), atol=0.01)  # the point painted over the line


def test_the_working_size_keeps_the_aspect_and_is_reported():
    assert working_shape(4000, 3000) == (400, 300)
    assert working_shape(40, 30) == (40, 30)  # small photos are solved as they are
    rows, cols = working_shape(1000, 10_000)
    assert rows * cols <= WORKING_PIXELS
    result = ml.colorize(_two_regions(), "scribbles", hints=[[10, 10, "#ff0000"]])
    assert result.info["coloria"]["working_size"] == "240×160"


@pytest.mark.parametrize(
    ("hints", "reason"),
    [
        ([], "needs colour strokes"),
        ([[10, 10, "#zzzzzz"]], "bad colour"),
        ([[10, 10, [300, 0, 0]]], "0-255"),
        ([{"points": [], "color": "#ff0000"}], "non-empty list"),
        ([{"points": [[1, 2, 3]], "color": "#ff0000"}], "[x, y]"),
        ([{"points": [[1, 2]], "color": "#ff0000", "width": 0}], "width is 1 to 500"),
        ([{"points": [[1, float("nan")]], "color": "#ff0000"}], "finite numbers"),
        ([{"points": [[1, 2]] * 2001, "color": "#ff0000"}], "at most 2000 points"),
        ([[1, 1, "#ff0000"]] * 501, "at most 500 hints"),
        ("[[1, 2", "not valid JSON"),
    ],
)
def test_bad_strokes_are_refused_with_the_reason(hints, reason):
    with pytest.raises(InvalidParameters) as caught:
        ml.colorize(_two_regions(), "scribbles", hints=hints)
    assert reason in str(caught.value)


def test_a_model_that_does_not_refine_refuses_a_base():
    with pytest.raises(InvalidParameters, match="cannot refine"):
        ml.colorize(_two_regions(), "zhang-eccv16", base=_two_regions())


def test_strokes_round_trip_through_json_parameters():
    from ml.registry import params_as_json

    spec = ml.get_spec("scribbles")
    cleaned = spec.clean_params({"hints": [{"points": [[1, 2], [3, 4]], "color": "#102030"}]})
    stored = params_as_json(cleaned)
    assert stored["hints"] == [{"points": [[1.0, 2.0], [3.0, 4.0]], "color": [16, 32, 48],
                                "width": 8.0}]  # fmt: skip
    assert spec.clean_params(stored) == cleaned
    assert isinstance(cleaned["hints"][0], Stroke)
