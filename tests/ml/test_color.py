"""The shared colour pipeline: conversions, input modes, orientation, lightness preservation."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from ml import color
from ml.color import Chroma
from tests.conftest import make_photo


def test_rgb_to_lab_matches_scikit_image():
    rgb = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    assert np.abs(color.rgb_to_lab(rgb) - rgb2lab(rgb)).max() < 2e-3


def test_lab_to_rgb_matches_scikit_image_inside_the_gamut():
    rgb = np.random.default_rng(2).random((32, 32, 3))
    lab = rgb2lab(rgb).astype(np.float32)
    assert np.abs(color.lab_to_rgb(lab) - lab2rgb(lab)).max() < 2e-3


def test_out_of_gamut_colours_keep_their_lightness():
    rng = np.random.default_rng(3)
    lab = np.stack(
        [rng.uniform(5, 95, 500), rng.uniform(-128, 128, 500), rng.uniform(-128, 128, 500)], -1
    ).astype(np.float32)
    rgb = color.lab_to_rgb(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert np.abs(rgb2lab(rgb)[..., 0] - lab[..., 0]).max() < 0.05


def test_resize_bilinear_matches_torch_interpolate():
    values = np.random.default_rng(4).random((7, 9, 2)).astype(np.float32)
    ours = color.resize_bilinear(values, 30, 17)
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(values).permute(2, 0, 1)[None], size=(30, 17), mode="bilinear"
    )[0].permute(1, 2, 0)
    assert np.abs(ours - theirs.numpy()).max() < 1e-5


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "I;16", "CMYK"])
def test_every_mode_becomes_gray_of_the_same_size(mode):
    source = make_photo(40, 30, mode="L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(source).astype(np.uint16) * 257)
    else:
        image = source.convert(mode)
    gray = color.to_gray(image)
    assert gray.shape == (30, 40) and gray.dtype == np.float32
    assert np.abs(gray - np.asarray(source) / 255).max() < 0.02


def test_a_bilevel_scan_stays_black_and_white():
    source = make_photo(40, 30, mode="L").convert("1")  # dithered: about as bright as the photo
    gray = color.to_gray(source)
    assert set(np.unique(gray)) == {0.0, 1.0}
    assert gray.mean() == pytest.approx(np.asarray(source.convert("L")).mean() / 255)
    assert gray.mean() > 0.2


def test_colour_photos_are_desaturated_keeping_their_lightness():
    photo = make_photo(40, 30, mode="RGB")
    gray = color.to_gray(photo)
    lightness = rgb2lab(np.asarray(photo) / 255.0)[..., 0]
    assert np.abs(color.gray_to_lightness(gray) - lightness).max() < 0.01


def test_exif_orientation_is_applied():
    image = make_photo(40, 20, mode="L")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert color.open_image(buffer.getvalue()).size == (20, 40)


def test_compose_keeps_size_and_lightness():
    photo = make_photo(64, 48, mode="L")
    gray = color.to_gray(photo)
    ab = np.random.default_rng(5).uniform(-60, 60, (16, 16, 2)).astype(np.float32)
    result = color.compose(gray, Chroma(ab=ab))
    assert result.size == photo.size
    got = rgb2lab(np.asarray(result))[..., 0]
    want = rgb2lab(np.asarray(photo.convert("RGB")))[..., 0]
    assert np.abs(got - want).max() <= 1.0
    assert np.abs(rgb2lab(np.asarray(result))[..., 1:]).mean() > 5


def test_yuv_chroma_keeps_the_photos_luma_exactly():
    photo = make_photo(64, 48, mode="L")
    gray = color.to_gray(photo)
    uv = np.random.default_rng(6).uniform(-0.4, 0.4, (8, 8, 2)).astype(np.float32)
    result = np.asarray(color.compose(gray, Chroma(ab=uv, space="yuv")), dtype=np.float64)
    luma = result @ color.YUV_FROM_RGB[0]
    assert np.abs(luma - np.asarray(photo, dtype=np.float64)).max() <= 1.0  # 8-bit rounding
    assert np.abs(result @ color.YUV_FROM_RGB[1:].T).mean() > 5


def test_yuv_matrix_matches_opencv_definition():
    # OpenCV: U = 0.492 (B - Y), V = 0.877 (R - Y)
    r, g, b = 0.8, 0.3, 0.1
    y = 0.299 * r + 0.587 * g + 0.114 * b
    assert np.allclose(color.YUV_FROM_RGB @ [r, g, b], [y, 0.492 * (b - y), 0.877 * (r - y)])


@pytest.mark.parametrize("level", [0.0, 1.0], ids=["black", "white"])
def test_flat_black_and_white_photos_keep_their_lightness(level):
    """Every pixel of such a photo is out of gamut for any colour: it must come back neutral,
    black or white, like the photo (the case that once took minutes and gigabytes)."""
    gray = np.full((300, 400), level, dtype=np.float32)
    chroma = Chroma(ab=np.random.default_rng(5).uniform(-90, 90, (16, 16, 2)).astype(np.float32))
    out = np.asarray(color.compose(gray, chroma))
    assert out.shape == (300, 400, 3)
    assert np.all(out == round(level * 255))


def test_composing_needs_memory_for_the_output_only_not_per_pixel_temporaries():
    """Full-resolution work goes a stripe of rows at a time: a photo four times larger needs
    only its larger 8-bit output (3 bytes a pixel) on top, not gigabytes of float arrays."""
    import tracemalloc

    chroma = Chroma(ab=np.random.default_rng(6).uniform(-90, 90, (32, 32, 2)).astype(np.float32))
    color.max_chroma(np.zeros(1), np.zeros(1))  # the gamut table is built once, beforehand
    peaks = {}
    for rows in (1000, 4000):
        gray = np.zeros((rows, 2000), dtype=np.float32)  # all out of gamut: the worst case
        tracemalloc.start()
        color.compose(gray, chroma)
        peaks[rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    extra_pixels = 3000 * 2000
    assert peaks[4000] - peaks[1000] < 5 * extra_pixels


@pytest.mark.parametrize("size", [(256, 256), (100, 64), (37, 512), (300, 199)])
def test_a_resize_made_in_bands_of_rows_is_the_whole_resize(size, monkeypatch):
    # A band of output rows a thread (where the height is a power of two: elsewhere the whole
    # resize): the same pixels, for photos larger and smaller than the result.
    from ml import color_fast

    rng = np.random.default_rng(3)
    banded_runs = []
    run_parts = color_fast.run_parts

    def counted(parts, work):
        banded_runs.append(len(parts))
        run_parts(parts, work)

    monkeypatch.setattr(color_fast, "run_parts", counted)
    for shape in ((1237, 1650), (90, 71)):
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        for threads in (1, 2, 3, 4):
            monkeypatch.setattr(color_fast, "threads", lambda threads=threads: threads)
            for resample in (Image.Resampling.BICUBIC, Image.Resampling.BILINEAR):
                whole = np.asarray(image.resize(size, resample))
                banded = np.asarray(color.resized(image, size, resample, parallel=True))
                assert np.array_equal(banded, whole), (shape, threads, resample)
    power_of_two = size[1] & (size[1] - 1) == 0
    assert banded_runs == ([2, 2, 2, 2, 4, 4] * 2 if power_of_two else [])
