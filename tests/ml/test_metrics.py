"""ml.metrics against published reference data and values worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from ml import metrics
from tests.conftest import make_photo

SHARMA = Path(__file__).resolve().parent.parent / "data" / "ciede2000-sharma-2005.tsv"


def sharma_pairs() -> np.ndarray:
    """The 34 pairs of Sharma, Wu & Dalal (2005): pair, L1 a1 b1, L2 a2 b2, ΔE00."""
    table = np.loadtxt(SHARMA, comments="#", skiprows=2, delimiter="\t")
    assert table.shape == (34, 8)
    assert list(table[:, 0]) == list(range(1, 35))
    return table


def test_ciede2000_reproduces_the_sharma_pairs_to_1e_4():
    table = sharma_pairs()
    lab1, lab2, expected = table[:, 1:4], table[:, 4:7], table[:, 7]
    assert np.abs(metrics.ciede2000(lab1, lab2) - expected).max() < 1e-4
    # The formula is symmetric, and the pairs are published in one order only.
    assert np.abs(metrics.ciede2000(lab2, lab1) - expected).max() < 1e-4


def test_ciede2000_works_on_images_of_lab_pixels():
    table = sharma_pairs()
    lab1 = table[:, 1:4].reshape(2, 17, 3)
    lab2 = table[:, 4:7].reshape(2, 17, 3)
    assert metrics.ciede2000(lab1, lab2).shape == (2, 17)
    np.testing.assert_allclose(metrics.ciede2000(lab1, lab2).ravel(), table[:, 7], atol=1e-4)


def test_identical_images_score_perfectly():
    photo = np.asarray(make_photo(48, 40, mode="RGB"))
    scores = metrics.score(photo, photo.copy())
    assert scores["delta_e00"] == 0.0
    assert scores["psnr"] == metrics.PSNR_CAP_DB
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert scores["colourfulness_diff"] == 0.0
    assert scores["ab_error_share"] == 0.0
    assert metrics.delta_e00_map(photo, photo).shape == (40, 48)


def test_psnr_by_hand():
    truth = np.zeros((10, 10, 3), dtype=np.uint8)
    pred = truth.copy()
    pred[0, 0, 0] = 255  # one channel of one pixel wrong by the full range: MSE = 1 / 300
    assert metrics.psnr(pred, truth) == pytest.approx(10 * math.log10(300))
    # Below the cap the cap does nothing; at 20 dB cap, it limits.
    assert metrics.psnr(pred, truth, cap=20.0) == 20.0


def test_uint8_float_and_pil_inputs_agree():
    photo = make_photo(32, 24, mode="RGB", seed=3)
    other = make_photo(32, 24, mode="RGB", seed=4)
    as_uint8 = metrics.score(np.asarray(photo), np.asarray(other))
    as_float = metrics.score(np.asarray(photo) / 255.0, np.asarray(other) / 255.0)
    as_float32 = metrics.score(np.asarray(photo, np.float32) / 255, np.asarray(other) / 255.0)
    as_pil = metrics.score(photo, other)
    for name in metrics.METRICS:
        assert as_float[name] == pytest.approx(as_uint8[name], rel=1e-12)
        assert as_float32[name] == pytest.approx(as_uint8[name], rel=1e-5, abs=1e-5)
        assert as_pil[name] == as_uint8[name]


def test_inputs_that_would_give_nonsense_are_refused():
    photo = np.asarray(make_photo(16, 16, mode="RGB"))
    with pytest.raises(ValueError, match="differ in size"):
        metrics.delta_e00(photo, photo[:8])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.delta_e00(photo.astype(np.float32), photo)  # 0-255 floats
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(photo[..., 0], photo[..., 0])


def test_colourfulness_of_a_uniform_colour():
    red = np.zeros((8, 8, 3), dtype=np.uint8)
    red[...] = (255, 0, 0)
    # rg = 255 and yb = 127.5 everywhere: no spread, so M = 0.3 * |(255, 127.5)|.
    assert metrics.colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))


def test_colourfulness_of_half_red_half_blue():
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[:, :3] = (255, 0, 0)  # rg = 255, yb = 127.5
    image[:, 3:] = (0, 0, 255)  # rg = 0, yb = -255
    # Two equal halves: mean is the midpoint and the standard deviation half the distance.
    mean_rg, mean_yb = 127.5, (127.5 - 255) / 2
    std_rg, std_yb = 127.5, (127.5 + 255) / 2
    expected = math.hypot(std_rg, std_yb) + 0.3 * math.hypot(mean_rg, mean_yb)
    assert metrics.colourfulness(image) == pytest.approx(expected)
    assert expected == pytest.approx(272.61, abs=0.01)


def test_grey_has_no_colourfulness_and_difference_is_signed():
    photo = np.asarray(make_photo(40, 30, mode="RGB"))
    grey = metrics.grey_baseline(photo)
    assert metrics.colourfulness(grey) == pytest.approx(0.0, abs=1e-9)
    difference = metrics.colourfulness_difference(grey, photo)
    assert difference == pytest.approx(-metrics.colourfulness(photo))
    assert difference < 0


def test_ab_error_share_by_hand():
    truth = np.full((10, 10, 3), 128, dtype=np.uint8)  # neutral grey: a = b = 0
    pred = truth.copy()
    pred[:2] = (200, 60, 60)  # 20 of 100 pixels clearly red
    pred[2, 0] = (129, 128, 128)  # one pixel off by a hair: ab error < 1
    lab = rgb2lab(pred / 255.0)
    assert math.hypot(lab[0, 0, 1], lab[0, 0, 2]) > 10 > math.hypot(lab[2, 0, 1], lab[2, 0, 2])
    assert metrics.ab_error_share(pred, truth) == pytest.approx(20.0)
    assert metrics.ab_error_share(pred, truth, threshold=0.1) == pytest.approx(21.0)
    assert metrics.score(pred, truth)["ab_error_share"] == pytest.approx(20.0)


def test_score_agrees_with_the_single_metric_functions():
    pred = make_photo(50, 30, mode="RGB", seed=1)
    truth = make_photo(50, 30, mode="RGB", seed=2)
    scores = metrics.score(pred, truth)
    assert list(scores) == list(metrics.METRICS)
    assert scores["delta_e00"] == metrics.delta_e00(pred, truth)
    assert scores["psnr"] == metrics.psnr(pred, truth)
    assert scores["ssim"] == metrics.ssim(pred, truth)
    assert scores["colourfulness"] == metrics.colourfulness(pred)
    assert scores["colourfulness_truth"] == metrics.colourfulness(truth)
    assert scores["colourfulness_diff"] == metrics.colourfulness_difference(pred, truth)
    assert scores["ab_error_share"] == metrics.ab_error_share(pred, truth)


def test_ssim_handles_images_smaller_than_its_window():
    photo = np.asarray(make_photo(5, 4, mode="RGB"))
    assert metrics.ssim(photo, photo) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="too small"):
        metrics.ssim(photo[:2], photo[:2])


def test_grey_baseline_keeps_lightness_and_drops_colour():
    photo = np.asarray(make_photo(64, 48, mode="RGB", seed=5))
    grey = metrics.grey_baseline(photo)
    assert grey.shape == photo.shape and grey.dtype == np.uint8
    # Neutral: all channels equal, and exactly the 8-bit gray version a model is given.
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    assert np.array_equal(grey[..., 0], metrics.gray_version(photo))
    lab_grey, lab_photo = rgb2lab(grey), rgb2lab(photo)
    # (scikit-image's white point and matrix disagree in the 5th digit: neutral is ab ~ 0.004.)
    assert np.abs(lab_grey[..., 1:]).max() < 0.01
    # Lightness kept up to 8-bit rounding of the gray (half a level is under 0.5 L* here).
    assert np.abs(lab_grey[..., 0] - lab_photo[..., 0]).max() < 0.5


def test_gray_version_is_the_luminance_of_the_photo():
    photo = np.asarray(make_photo(30, 20, mode="RGB", seed=6))
    linear = np.where(photo / 255 > 0.04045, ((photo / 255 + 0.055) / 1.055) ** 2.4, photo / 3294.6)
    luminance = linear @ np.array([0.212671, 0.715160, 0.072169])
    gray = np.where(
        luminance > 0.0031308, 1.055 * luminance ** (1 / 2.4) - 0.055, 12.92 * luminance
    )
    assert np.abs(metrics.gray_version(photo).astype(int) - np.round(gray * 255)).max() <= 1
    assert metrics.gray_version(Image.fromarray(photo)).dtype == np.uint8
