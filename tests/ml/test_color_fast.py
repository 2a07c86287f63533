"""The fast full-resolution kernels (ml.color_fast, ml.compose_kernels) against ml.color's
reference formulas, on generated photos: the same 8-bit result, bit for bit (tolerance 0), in
one thread or several, compiled or by numpy's passes."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from ml import color, color_fast, colorspace, compose_kernels
from ml.color import Chroma


def reference_compose(gray: np.ndarray, ab: np.ndarray, space: str) -> np.ndarray:
    """compose as the formulas define it, on the whole photo at once."""
    upsampled = color.resize_bilinear(ab, *gray.shape)
    if space == "yuv":
        rgb = color.yuv_to_rgb(gray, upsampled)
    else:
        lightness = color.gray_to_lightness(gray)[..., None]
        rgb = color.lab_to_rgb(np.concatenate([lightness, upsampled], axis=-1))
    return np.round(rgb * 255.0).astype(np.uint8)


def reference_gray(rgb: np.ndarray) -> np.ndarray:
    linear = color.srgb_to_linear(rgb.astype(np.float32) / 255.0)
    weights = color.LUMA
    luminance = weights[0] * linear[..., 0] + weights[1] * linear[..., 1]
    luminance = luminance + weights[2] * linear[..., 2]
    return color.linear_to_srgb(np.clip(luminance, 0.0, 1.0))


def grays(height: int, width: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:height, :width]
    eight_bit = (
        np.random.default_rng(4).integers(0, 256, (height, width)).astype(np.float32) / 255.0
    )
    return {
        "noise": rng.random((height, width), dtype=np.float32),
        "dark": rng.random((height, width), dtype=np.float32) * 0.06,  # the linear branches
        "gradient": ((x + y) / (height + width)).astype(np.float32),
        "black": np.zeros((height, width), dtype=np.float32),
        "white": np.ones((height, width), dtype=np.float32),
        # An 8-bit photo's gray (to_gray's k / 255): compose takes its L* from a table.
        "8-bit": eight_bit,
        # The same with one value a float32 step off: its stripe is computed, not looked up.
        "8-bit but one": np.where(
            (y == height // 2) & (x == 5), np.nextafter(eight_bit, 2), eight_bit
        ).astype(np.float32),
    }


@pytest.fixture(params=[1, 2], ids=["one-thread", "two-threads"])
def threads(request, monkeypatch):
    monkeypatch.setattr(color_fast, "MAX_THREADS", request.param)
    monkeypatch.setattr(color_fast, "STRIPE_PIXELS", 4096)  # many stripes on a small photo
    monkeypatch.setattr(color_fast, "threads", lambda: request.param)
    return request.param


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request, monkeypatch):
    """compose's Lab stripes by ml.compose_kernels' compiled loops (Numba is a requirement), or
    by numpy's passes, as where Numba is not installed."""
    assert compose_kernels.available()
    if request.param == "numpy":
        monkeypatch.setattr(compose_kernels, "available", lambda: False)
    return request.param


@pytest.mark.parametrize("space", ["lab", "yuv"])
@pytest.mark.parametrize("chroma_shape", [(13, 17), (97, 203)], ids=["upsampled", "downsampled"])
def test_compose_equals_the_reference_formulas(threads, kernels, space, chroma_shape):
    rng = np.random.default_rng(4)
    spread = 0.4 if space == "yuv" else 110.0  # far outside the gamut too
    ab = rng.uniform(-spread, spread, (*chroma_shape, 2)).astype(np.float32)
    for name, gray in grays(83, 151).items():
        got = np.asarray(color.compose(gray, Chroma(ab=ab, space=space)))
        want = reference_compose(gray, ab, space)
        assert got.shape == want.shape
        assert np.array_equal(got, want), (name, np.abs(got.astype(int) - want).max())


def test_compose_with_its_lightness_computed_beforehand_equals_the_reference(threads, kernels):
    """ml.colorize computes a photo's L* beside a guided model's solve (color_fast.Lightness):
    the same bits, whether by table (8-bit gray) or by formula, out of gamut too."""
    ab = np.random.default_rng(14).uniform(-110, 110, (13, 17, 2)).astype(np.float32)
    for name, gray in grays(83, 151).items():
        lightness = color_fast.Lightness(gray).compute()
        stripes = color_fast._stripes(*gray.shape)
        assert len(lightness.done) == len(stripes) > 2
        joined = np.concatenate([lightness.rows(rows)[0] for rows in stripes])
        assert np.array_equal(joined, color.gray_to_lightness(gray)), name
        got = np.asarray(color.compose(gray, Chroma(ab=ab), lightness))
        assert np.array_equal(got, reference_compose(gray, ab, "lab")), name
        del lightness.done[stripes[1].start]  # not done when compose started: computed there
        got = np.asarray(color.compose(gray, Chroma(ab=ab), lightness))
        assert np.array_equal(got, reference_compose(gray, ab, "lab")), name
    yuv = Chroma(ab=ab / 300, space="yuv")  # luma-based: the L* planes are not used
    assert np.array_equal(np.asarray(color.compose(gray, yuv, lightness)),
                          reference_compose(gray, yuv.ab, "yuv"))  # fmt: skip


def test_only_a_single_threaded_model_has_its_lightness_computed_beside_it():
    import ml
    from ml import runtime

    gray = grays(40, 60)["noise"]
    with runtime.in_use(ml.get_spec("scribbles"), "cpu") as predictor:
        beside = ml.lightness_beside(predictor, gray)
        assert (beside is not None) == (color_fast.threads() > 1)
    if beside is not None:
        done = beside.finish().done  # stops at once, or when all is done, never in a stripe
        assert set(done) <= {rows.start for rows in color_fast._stripes(*gray.shape)}
    assert ml.lightness_beside(object(), gray) is None  # a network's threads would wait on it


def test_compose_of_a_one_row_and_a_one_column_photo(threads, kernels):
    ab = np.random.default_rng(5).uniform(-40, 40, (4, 4, 2)).astype(np.float32)
    for shape in ((1, 300), (300, 1), (1, 1)):
        gray = np.random.default_rng(6).random(shape, dtype=np.float32)
        got = np.asarray(color.compose(gray, Chroma(ab=ab)))
        assert np.array_equal(got.reshape(*shape, 3), reference_compose(gray, ab, "lab"))


def test_compiled_and_numpy_compose_agree_on_chroma_no_model_should_give(monkeypatch):
    """Huge, infinite and NaN chroma: whatever the formulas make of them, both ways make it."""
    ab = np.random.default_rng(15).uniform(-1e4, 1e4, (9, 11, 2)).astype(np.float32)
    ab[0, :3, 0], ab[1, :3, 1] = (np.inf, -np.inf, np.nan), (np.nan, np.inf, -np.inf)
    ab[2, :4] = np.float32(3e38)
    for (name, gray), space in itertools.product(grays(37, 53).items(), ("lab", "yuv")):
        chroma = Chroma(ab=ab if space == "lab" else ab / 300, space=space)
        compiled = np.asarray(color.compose(gray, chroma))
        with monkeypatch.context() as patch:
            patch.setattr(compose_kernels, "available", lambda: False)
            assert np.array_equal(compiled, np.asarray(color.compose(gray, chroma))), (name, space)


def test_compose_kernels_compile_where_numba_cannot_keep_them(
    monkeypatch, numba_refusing_its_cache
):
    """Without a writable place for Numba's cache the loops are compiled in each process, and
    still compose."""
    loops = compose_kernels.kernels.__wrapped__()
    monkeypatch.setattr(compose_kernels, "kernels", lambda: loops)
    gray, ab = grays(20, 30)["noise"], np.full((3, 3, 2), 30.0, dtype=np.float32)
    for space, chroma in (("lab", ab), ("yuv", ab / 300)):
        got = np.asarray(color.compose(gray, Chroma(ab=chroma, space=space)))
        assert np.array_equal(got, reference_compose(gray, chroma, space))
    assert all(loop.signatures for loop in loops)  # compiled, and ran


def _numpy_rgb_codes(cube_x, linear_y, cube_z):
    """color_fast._lab_stripe's steps from f(X)^3, linear Y, f(Z)^3: codes and out of gamut."""
    x, z = cube_x * colorspace.WHITE_D65[0], cube_z * colorspace.WHITE_D65[2]
    red, green, blue = (x * m[0] + linear_y * m[1] + z * m[2] for m in colorspace.RGB_FROM_XYZ)
    low = np.minimum(np.minimum(red, green), blue) < -colorspace._EPS_LOW
    high = np.maximum(np.maximum(red, green), blue) > 1 + colorspace._EPS_HIGH
    out = np.empty((*x.shape, 3), dtype=np.uint8)
    color_fast._to_8bit((red, green, blue), np.empty_like(x), out)
    return out, low | high


def test_the_compiled_rgb_codes_equal_numpys_for_any_float32():
    """Every kind of float32 as f(X)^3, Y and f(Z)^3: in gamut and out, at the gamut's limits,
    negative zero, subnormal, infinite, NaN, random bit patterns."""
    rng = np.random.default_rng(16)
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1.0, 1.0001, -1e-6, np.inf, -np.inf, np.nan,
                        -np.nan, 3e38], dtype=np.float32)  # fmt: skip
    edges = np.array([-colorspace._EPS_LOW, 1 + colorspace._EPS_HIGH], dtype=np.float32)
    near = (edges.view(np.int32)[:, None] + np.arange(-2, 3)).ravel().view(np.float32)
    planes = []
    for _ in range(3):
        values = np.concatenate([
            rng.uniform(-0.2, 1.2, 60_000).astype(np.float32),
            rng.integers(-(2**31), 2**31, 20_000).astype(np.int32).view(np.float32),
            rng.choice(np.concatenate([special, near]), 20_000),
        ])  # fmt: skip
        planes.append(rng.permutation(values).reshape(250, 400))
    cube_x, linear_y, cube_z = planes
    linear_y[:50] = near[rng.integers(0, len(near), (50, 400))]  # channels at the limits
    want, want_outside = _numpy_rgb_codes(cube_x, linear_y, cube_z)
    flat = (plane.reshape(-1) for plane in planes)
    linear, outside, count = color_fast._compiled_linear(*flat, np.empty(100_000, dtype=bool))
    assert count == outside.sum() > 0 and np.array_equal(outside, want_outside.reshape(-1))
    got = np.empty((100_000, 3), dtype=np.uint8)
    compose_kernels.kernels().codes(linear, color_fast._srgb8_tables(), 13, got)
    assert np.array_equal(got, want.reshape(-1, 3))  # out of the gamut too: its codes as numpy's


def test_the_8bit_gray_tables_are_the_reference_formulas_values():
    gray, lightness, y, linear_y = color_fast._gray8_tables()
    assert np.array_equal(gray, np.arange(256, dtype=np.float32) / 255.0)  # k / 255 in float32
    assert np.array_equal(lightness, color.gray_to_lightness(gray))
    assert np.array_equal(y, (lightness + 16.0) / 116.0)  # as lab_to_linear_rgb computes it
    assert np.array_equal(linear_y, colorspace._f_inv(y) * colorspace.WHITE_D65[1])


def test_gray_of_a_colour_photo_equals_the_reference_formula(threads):
    rgb = np.random.default_rng(7).integers(0, 256, (91, 157, 3), dtype=np.uint8)
    rgb[:10] = rgb[:10, :, :1]  # grey rows as well: a sampled check must not be fooled
    got = color.to_gray(Image.fromarray(rgb))
    assert got.dtype == np.float32
    assert np.array_equal(got, reference_gray(rgb))


def test_an_8bit_gray_photo_reads_as_its_codes_over_255(threads):
    codes = np.random.default_rng(9).integers(0, 256, (91, 157), dtype=np.uint8)
    expected = codes.astype(np.float32) / 255.0  # the formula: in float32, each code over 255
    scan = Image.fromarray(codes)
    grey_as_colour = Image.fromarray(np.repeat(codes[..., None], 3, axis=2))
    for image in (scan, scan.convert("LA"), grey_as_colour):
        got = color.to_gray(image)
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    bilevel = scan.convert("1")
    expected = np.asarray(bilevel.convert("L")).astype(np.float32) / 255.0
    assert np.array_equal(color.to_gray(bilevel), expected) and set(np.unique(expected)) == {0, 1}


def test_the_8bit_codes_of_gray_values_are_the_rounded_formula(threads):
    values = list(grays(40, 61).values())
    halves = (np.arange(256, dtype=np.float32) + 0.5) / 255.0  # ties: rounded to even
    outside = np.linspace(-0.3, 1.3, 61, dtype=np.float32)
    gray = np.concatenate([*values, np.resize(halves, (5, 61)), outside[None]])
    for each in (gray, gray.astype(np.float64)):
        expected = np.round(np.clip(each, 0, 1) * 255).astype(np.uint8)
        assert np.array_equal(color_fast.codes_of_gray(each), expected)
    assert np.array_equal(np.asarray(color.gray_image(gray)), color_fast.codes_of_gray(gray))


def test_a_colour_photo_whose_sampled_rows_are_grey_is_still_colour():
    rgb = np.repeat(np.random.default_rng(8).integers(0, 256, (200, 50, 1), np.uint8), 3, axis=2)
    rgb[101, 7] = (10, 200, 30)  # a row the sample skips
    assert np.array_equal(color.to_gray(Image.fromarray(rgb)), reference_gray(rgb))
    grey = rgb.copy()
    grey[101, 7] = 10
    assert np.array_equal(color.to_gray(Image.fromarray(grey)), grey[..., 0] / np.float32(255))


def test_the_stored_png_decodes_to_the_same_pixels():
    rgb = np.random.default_rng(9).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    png = color.encode_png(Image.fromarray(rgb))
    assert png.startswith(b"\x89PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), rgb)


def test_the_8bit_table_equals_the_reference_near_every_threshold():
    """Every code boundary, 3 float32 steps either side, and a million random values."""
    _, threshold = color_fast._srgb8_tables()
    edges = threshold[threshold < np.iinfo(np.int32).max].astype(np.int64)
    bits = (edges[:, None] + np.arange(-3, 4)).ravel()
    values = np.concatenate([
        bits.astype(np.int32).view(np.float32),
        np.random.default_rng(12).random(1_000_000, dtype=np.float32),
        np.array([0.0, -0.0, 1.0, 1e-30, -1e-30, -0.5, 1.0001, 2.0, np.inf, -np.inf], np.float32),
    ])  # fmt: skip
    plane = values.reshape(1, -1)
    out = np.empty((1, values.size, 3), dtype=np.uint8)
    channels = (plane.copy(), plane.copy(), plane.copy())
    color_fast._to_8bit(channels, np.empty_like(plane), out)
    assert np.array_equal(out[0, :, 0], color_fast._srgb8_code(np.clip(values, 0, 1)))


def _compose_in_child(queue) -> None:
    gray = np.random.default_rng(13).random((256, 64), dtype=np.float32)  # 4 stripes
    ab = np.zeros((4, 4, 2), dtype=np.float32)
    queue.put(np.asarray(color.compose(gray, Chroma(ab=ab))).shape)


def test_a_process_forked_after_composing_composes_on_threads_of_its_own(threads):
    import multiprocessing

    _compose_in_child(multiprocessing.Queue())  # the parent's pool exists now (with 2 threads)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_compose_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():  # waiting on the parent's threads, which the child does not have
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=5) == (256, 64, 3)


def test_a_guided_model_that_fails_stops_the_lightness_beside_it(monkeypatch):
    import ml
    from ml.errors import InvalidParameters
    from ml.guided import scribbles

    def failing_solve(*args, **kwargs):
        raise InvalidParameters("the solver refused")

    started = []
    real = color_fast.lightness_beside
    monkeypatch.setattr(color_fast, "threads", lambda: 2)
    monkeypatch.setattr(
        color_fast, "lightness_beside", lambda g: started.append(real(g)) or started[-1]
    )
    monkeypatch.setattr(scribbles, "propagate", failing_solve)
    photo = Image.fromarray(np.full((300, 400), 120, dtype=np.uint8))
    with pytest.raises(InvalidParameters, match="the solver refused"):
        ml.colorize(photo, "scribbles", hints=[[10, 10, "#ff0000"]])
    assert len(started) == 1 and started[0]._stop.is_set()  # finished: computes no further
