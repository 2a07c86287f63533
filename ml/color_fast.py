"""The full-resolution colour kernels behind ml.color's `to_gray` and `compose`.

They compute what the reference formulas of ml.colorspace compute, in the same float32
operations and order, so that the results are the same bit for bit (tests/ml/test_color_fast.py
checks it on generated photos). What makes them several times faster on a 12- or 24-megapixel photo:

- each formula's usual branch runs on every pixel without `np.where` (which computes both
  branches, then picks), and the few pixels of the other branch (very dark ones) are recomputed
  by the reference formula afterwards;
- colour channels are separate planes and every temporary is a buffer of one stripe of rows,
  reused from stripe to stripe (small enough to stay in the CPU's cache, no allocations);
- 8-bit sRGB decoding is a 256-entry table of the reference formula's own values, and the final
  sRGB encoding and rounding to 8 bits a table of the exact float32 thresholds between codes;
- stripes are shared between threads: numpy's loops release the GIL, so two cores do twice the
  work (threads as many as the CPUs this process may use, at most MAX_THREADS);
- where Numba is installed, compose's stripes run as compiled loops over the pixels
  (ml.compose_kernels: the same operations in the same order) rather than numpy's passes over
  whole planes, all but Lab's cube, which stays numpy's.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ml import colorspace as ref
from ml import compose_kernels

# 128K pixels a stripe (a float32 plane is 512 KB): fewer stripes cost more in Python calls,
# larger ones fall out of the CPU cache (measured: 16K-128K pixels, 128K fastest).
STRIPE_PIXELS = 1 << 17
MAX_THREADS = 4
_F32 = np.float32
_DELTA = _F32(6 / 29)
_DELTA3 = _F32((6 / 29) ** 3)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_beside: ThreadPoolExecutor | None = None  # runs lightness_beside's work


def threads() -> int:
    """How many threads the full-resolution kernels use: the CPUs this process may run on."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(count, MAX_THREADS))


def _stripes(height: int, width: int) -> list[slice]:
    rows = max(1, STRIPE_PIXELS // max(width, 1))
    return [slice(top, min(top + rows, height)) for top in range(0, height, rows)]


def for_each_stripe(height: int, width: int, work: Callable[[list[slice]], None]) -> None:
    """Call `work` with the stripes of an image, split into one contiguous run per thread."""
    run_parts(_stripes(height, width), work)


def _forget_pool() -> None:
    """In a forked child (a worker forked after its parent composed a photo), the parent's
    threads do not exist: a new pool is made on first use."""
    global _pool, _pool_lock, _beside
    _pool, _pool_lock, _beside = None, threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_parts(parts: list, work: Callable[[list], None]) -> None:
    """Call `work` with `parts` split into one contiguous run per thread, and wait for all."""
    count = min(threads(), len(parts))
    if count <= 1:
        work(parts)
        return
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="coloria-color")
    share = -(-len(parts) // count)
    futures = [_pool.submit(work, parts[i : i + share]) for i in range(0, len(parts), share)]
    for future in futures:
        future.result()  # re-raises a thread's exception


class _Planes:
    """Float32 scratch planes of one stripe's shape, reused for every stripe of one thread."""

    def __init__(self, rows: int, width: int, count: int, dtype: type = np.float32) -> None:
        self.store = np.empty((count, rows * width), dtype=dtype)

    def get(self, rows: int, width: int) -> list[np.ndarray]:
        return [plane[: rows * width].reshape(rows, width) for plane in self.store]


@np.errstate(all="ignore")
def srgb_to_linear(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """ml.color.srgb_to_linear of a float32 plane, into `out` (which may be `values`)."""
    low = values <= _F32(0.04045)
    lows = values[low] if low.any() else None
    np.maximum(values, _F32(0.04045), out=out)
    out += _F32(0.055)
    out /= _F32(1.055)
    np.power(out, _F32(2.4), out=out)
    if lows is not None:
        out[low] = lows / _F32(12.92)
    return out


@np.errstate(all="ignore")
def linear_to_srgb(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """ml.color.linear_to_srgb of a float32 plane, into `out` (which may be `values`)."""
    low = values <= _F32(0.0031308)
    lows = values[low] if low.any() else None
    np.maximum(values, _F32(0.0031308), out=out)
    np.power(out, _F32(1 / 2.4), out=out)
    out *= _F32(1.055)
    out -= _F32(0.055)
    if lows is not None:
        out[low] = lows * _F32(12.92)
    return out


@np.errstate(all="ignore")
def _f(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """ml.color._f (Lab's cube root) of a float32 plane, into `out` (which may be `values`)."""
    low = values <= _DELTA3
    lows = values[low] if low.any() else None
    np.cbrt(values, out=out)
    if lows is not None:
        out[low] = ref._f(lows)
    return out


@np.errstate(all="ignore")
def _f_inv(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """ml.color._f_inv of a float32 plane, into `out` (which may be `values`)."""
    low = values <= _DELTA
    lows = values[low] if low.any() else None
    np.power(values, _F32(3), out=out)
    if lows is not None:
        out[low] = ref._f_inv(lows)
    return out


# --- to_gray ---------------------------------------------------------------------------------


@np.errstate(all="ignore")
def _linear_table() -> np.ndarray:
    """srgb_to_linear of the 256 8-bit values, computed as the reference computes each pixel."""
    return ref.srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def gray_of_rgb(rgb: np.ndarray) -> np.ndarray:
    """ml.color.to_gray of an 8-bit RGB array (H, W, 3) that is not already gray."""
    height, width = rgb.shape[:2]
    gray = np.empty((height, width), dtype=np.float32)
    table = _linear_table()
    luma = [_F32(w) for w in ref.LUMA]

    def work(stripes: list[slice]) -> None:
        planes = _Planes(stripes[0].stop - stripes[0].start, width, 3)
        for rows in stripes:
            lum, channel, _ = scratch = planes.get(rows.stop - rows.start, width)
            for index in range(3):
                target = lum if index == 0 else channel
                np.take(table, rgb[rows, :, index], out=target, mode="clip")
                target *= luma[index]
                if index:
                    lum += channel
            np.clip(lum, _F32(0), _F32(1), out=lum)
            linear_to_srgb(lum, out=gray[rows])
            del scratch

    for_each_stripe(height, width, work)
    return gray


def gray_of_codes(codes: np.ndarray) -> np.ndarray:
    """An 8-bit gray plane (H, W) as to_gray's values, k / 255 in float32: by table, on every
    core (to_gray of a 12-megapixel scan: 15 ms on two cores, where converting, then dividing
    on one took 36)."""
    height, width = codes.shape
    gray = np.empty((height, width), dtype=np.float32)
    table = _gray8_tables()[0]

    def work(stripes: list[slice]) -> None:
        for rows in stripes:
            np.take(table, codes[rows], out=gray[rows], mode="clip")

    for_each_stripe(height, width, work)
    return gray


def codes_of_gray(gray: np.ndarray) -> np.ndarray:
    """rint(clip(gray, 0, 1) x 255) as uint8 (H, W), the 8-bit gray the official models resize,
    the same float32 operations in stripes, on every core (the formula at once, on one core:
    26 ms at 12 megapixels)."""
    if gray.dtype != np.float32 or gray.ndim != 2:
        return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)
    height, width = gray.shape
    codes = np.empty((height, width), dtype=np.uint8)

    def work(stripes: list[slice]) -> None:
        planes = _Planes(stripes[0].stop - stripes[0].start, width, 1)
        for rows in stripes:
            (spare,) = planes.get(rows.stop - rows.start, width)
            np.clip(gray[rows], _F32(0), _F32(1), out=spare)
            spare *= _F32(255)
            np.rint(spare, out=spare)
            np.copyto(codes[rows], spare, casting="unsafe")

    for_each_stripe(height, width, work)
    return codes


# --- compose ---------------------------------------------------------------------------------


def _upsample_rows(
    plane: np.ndarray, rows: tuple, cols: tuple, out: np.ndarray, spare: np.ndarray
) -> None:
    """ml.color._resize_rows of one channel plane for one stripe, into `out`."""
    (y0, y1, wy), (x0, x1, wx) = rows, cols
    picked = plane[y0] * (1 - wy)[:, None] + plane[y1] * wy[:, None]
    np.take(picked, x0, axis=1, out=out, mode="clip")  # indices in range: no checks
    out *= 1 - wx
    np.take(picked, x1, axis=1, out=spare, mode="clip")
    spare *= wx
    out += spare


def compose_rgb(
    gray: np.ndarray, ab: np.ndarray, space: str, lightness: Lightness | None = None
) -> np.ndarray:
    """The 8-bit RGB (H, W, 3) of ml.color.compose: chroma `ab` (h, w, 2) upsampled onto gray.

    `lightness`: a `Lightness` of `gray`, its stripes done beforehand (space "lab" only)."""
    height, width = gray.shape
    planes = [np.ascontiguousarray(ab[..., 0]), np.ascontiguousarray(ab[..., 1])]
    row_axis, col_axis = ref._axis(height, ab.shape[0]), ref._axis(width, ab.shape[1])
    out = np.empty((height, width, 3), dtype=np.uint8)
    stripe = _yuv_stripe if space == "yuv" else _lab_stripe
    compiled = compose_kernels.available() and (
        _compiled_yuv_stripe if space == "yuv" else _compiled_lab_stripe
    )

    def work(stripes: list[slice]) -> None:
        most = stripes[0].stop - stripes[0].start
        scratch = _Planes(most, width, 10)
        wide = _Planes(most, width, 8, np.float64) if space == "yuv" and not compiled else None
        for rows in stripes:
            count = rows.stop - rows.start
            buffers = scratch.get(count, width)
            known = None if lightness is None else lightness.rows(rows)  # None: not done
            if compiled:
                axes = (row_axis, col_axis)
                compiled(gray[rows], planes, axes, rows, buffers, out[rows], known)
                continue
            first, second, spare = buffers[:3]
            picked = tuple(a[rows] for a in row_axis)
            _upsample_rows(planes[0], picked, col_axis, first, spare)
            _upsample_rows(planes[1], picked, col_axis, second, spare)
            more = buffers[2:] if wide is None else wide.get(count, width)
            stripe(gray[rows], first, second, more, out[rows], known)

    for_each_stripe(height, width, work)
    return out


class Lightness:
    """A photo's full-resolution L* and linear Y (white-scaled), as compose's Lab stripes compute
    them from its gray: the half of compose that needs no colour, done beforehand, stripe by
    stripe, on the core that a model predicting on one core leaves idle (ml.colorize), until
    compose starts (`finish`); compose computes the stripes not done. 8 bytes a pixel done.

    As far as the prediction lasts, no further: at 40 megapixels, all of it took longer than a
    guided model's prediction, and writing it whole and reading it back cost more than it saved
    (python -m ml.pipeline_benchmark)."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self.done: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by a stripe's first row
        self._stop = threading.Event()
        self._running: Future | None = None

    def compute(self) -> Lightness:
        """Compute stripes in order, on this thread, until all are done or `finish` is called."""
        height, width = self.gray.shape
        stripes = _stripes(height, width)
        scratch = _Planes(stripes[0].stop - stripes[0].start, width, 3) if stripes else None
        for rows in stripes:
            if self._stop.is_set():
                break
            count = rows.stop - rows.start
            y, spare, codes = scratch.get(count, width)
            lightness, linear_y = (np.empty((count, width), dtype=np.float32) for _ in range(2))
            _lightness_y(self.gray[rows], lightness, y, linear_y, spare, codes.view(np.uint8))
            self.done[rows.start] = (lightness, linear_y)
        return self

    def finish(self) -> Lightness:
        """Stop computing (the stripe under way is completed) and hand over what is done."""
        self._stop.set()
        if self._running is not None:
            self._running.result()
        return self

    def rows(self, rows: slice) -> tuple[np.ndarray, np.ndarray] | None:
        """A stripe's L* and linear Y, if done (compose's stripes are this class's)."""
        return self.done.get(rows.start)


def lightness_beside(gray: np.ndarray) -> Lightness:
    """A Lightness of `gray`, computed from now on a background thread until it is finished."""
    global _beside
    with _pool_lock:
        if _beside is None:
            _beside = ThreadPoolExecutor(1, thread_name_prefix="coloria-lightness")
    lightness = Lightness(gray)
    lightness._running = _beside.submit(lightness.compute)
    return lightness


@np.errstate(all="ignore")
def _lightness_y(gray, lightness, y, linear_y, spare, codes) -> None:
    """A stripe's L*, f(Y) (the Lab function of Y: (L* + 16) / 116) and linear Y into the
    given planes; `codes` is uint8 scratch of at least the stripe's size."""
    eight_bit = _gray8_codes(gray, spare, codes[..., : gray.shape[1]])
    if eight_bit is not None:  # an 8-bit photo's gray: its 256 values' results, by table
        lightness_of, y_of, linear_y_of = _gray8_tables()[1:]
        np.take(lightness_of, eight_bit, out=lightness, mode="clip")
        np.take(y_of, eight_bit, out=y, mode="clip")
        np.take(linear_y_of, eight_bit, out=linear_y, mode="clip")
        return
    _lightness_and_y(gray, lightness, y, spare)
    _f_inv(y, out=linear_y)
    linear_y *= ref.WHITE_D65[1]


@np.errstate(all="ignore")
def _lab_stripe(
    gray: np.ndarray, a: np.ndarray, b: np.ndarray, buffers: list, out, known=None
) -> None:
    """ml.color's gray_to_lightness and lab_to_rgb for one stripe, written into `out` (8-bit);
    `known`: the stripe's L* and linear Y from a `Lightness`, if done beforehand."""
    lightness, x, y, z, red, green, blue, spare = buffers
    if known is None:
        _lightness_y(gray, lightness, y, z, spare, red.view(np.uint8))
    else:
        lightness = known[0]
        np.add(lightness, _F32(16.0), out=y)  # f(Y), as _lightness_and_y gets it
        y /= _F32(116.0)
    np.divide(a, _F32(500.0), out=x)
    x += y
    np.divide(b, _F32(200.0), out=red)
    np.subtract(y, red, out=red)
    # x, y, z: f(X), f(Y), f(Z) -> linear X, Y, Z (Y as computed with L*)
    np.copyto(y, z if known is None else known[1])
    np.copyto(z, red)
    for value, white in ((x, ref.WHITE_D65[0]), (z, ref.WHITE_D65[2])):
        _f_inv(value, out=value)
        value *= white
    for target, row in zip((red, green, blue), ref.RGB_FROM_XYZ, strict=True):
        np.multiply(x, row[0], out=target)
        np.multiply(y, row[1], out=spare)
        target += spare
        np.multiply(z, row[2], out=spare)
        target += spare
    low = np.minimum(np.minimum(red, green, out=x), blue, out=x) < -ref._EPS_LOW
    high = np.maximum(np.maximum(red, green, out=y), blue, out=y) > 1 + ref._EPS_HIGH
    outside = np.logical_or(low, high, out=low)
    if outside.any():  # out of gamut: the reference's own fit, for these pixels only
        fitted = _fitted_linear(np.stack([lightness[outside], a[outside], b[outside]], axis=-1))
        for index, channel in enumerate((red, green, blue)):
            channel[outside] = fitted[:, index]
    _to_8bit((red, green, blue), spare, out)


def _compiled_lab_stripe(gray, planes, axes, rows, buffers, out, known) -> None:
    """_upsample_rows and _lab_stripe for one stripe, by ml.compose_kernels' compiled loops
    (the same bits): chroma `planes` (a, b at the model's size), `axes`: the photo's row and
    column axes (ml.colorspace._axis)."""
    loops = compose_kernels.kernels()
    lightness, y, linear_y, spare, a, b, fx, fz, flags = buffers[:9]
    if known is None:
        values, lightness_of, _, linear_y_of = _gray8_tables()
        flat = (gray.reshape(-1), values, lightness_of, linear_y_of)
        if not loops.table_lightness(*flat, lightness.reshape(-1), linear_y.reshape(-1)):
            _lightness_y(gray, lightness, y, linear_y, spare, flags.view(np.uint8))
    else:
        lightness, linear_y = known
    loops.upsampled(*planes, *axes, rows.start, a, b)
    lightness, linear_y, a, b, fx, fz = (p.reshape(-1) for p in (lightness, linear_y, a, b, fx, fz))
    loops.lab_f(lightness, a, b, fx, fz)
    with np.errstate(all="ignore"):
        _f_inv(fx, out=fx)
        _f_inv(fz, out=fz)
    linear, outside, count = _compiled_linear(fx, linear_y, fz, flags.view(np.bool_).ravel())
    out, tables = out.reshape(-1, 3), _srgb8_tables()
    loops.codes(linear, tables, _BUCKET_SHIFT, out)
    if count:  # out of gamut: the reference's own fit, for these pixels only
        lab = np.stack([lightness[outside], a[outside], b[outside]], axis=-1)
        codes = np.empty(lab.shape, dtype=np.uint8)
        loops.codes(_compiled_fitted_linear(lab), tables, _BUCKET_SHIFT, codes)
        out[outside] = codes


def _compiled_linear(cube_x, linear_y, cube_z, flags, nan_outside: bool = False) -> tuple:
    """Linear RGB (3, n) from f(X)^3, linear Y and f(Z)^3 (ml.compose_kernels.linear_rgb),
    which pixels are out of the gamut (a view of `flags`, bool scratch of n or more) and how
    many."""
    linear = np.empty((3, len(cube_x)), dtype=np.float32)
    outside = flags[: len(cube_x)]
    white, matrix = ref.WHITE_D65, ref.RGB_FROM_XYZ
    count = compose_kernels.kernels().linear_rgb(
        cube_x, linear_y, cube_z, white, matrix, _LIMITS, nan_outside, linear, outside
    )
    return linear, outside, count


def _compiled_fitted_linear(lab: np.ndarray) -> np.ndarray:
    """_fitted_linear's linear RGB, as (3, n), by the compiled loops but for numpy's own
    hypot, arctan2 and cube, called on arrays laid out as _fitted_linear's."""
    chroma, hue = np.hypot(lab[:, 1], lab[:, 2]), np.arctan2(lab[:, 2], lab[:, 1])
    fitted, cubes = np.empty_like(lab), np.empty((3, len(lab)), dtype=np.float32)
    compose_kernels.kernels().fit(lab, chroma, hue, ref._chroma_table(), fitted, *cubes)
    with np.errstate(all="ignore"):
        for plane in cubes:
            _f_inv(plane, out=plane)
    flags = np.empty(len(lab), dtype=bool)  # f(Y)^3 is linear Y: the white's Y is 1
    linear, still, count = _compiled_linear(*cubes, flags, nan_outside=True)
    if count:  # where interpolating the table overshot the gamut's edge
        linear[:, still] = ref.lab_to_linear_rgb(ref._bisect_into_gamut(fitted[still])).T
    return linear


def _compiled_yuv_stripe(gray, planes, axes, rows, buffers, out, known=None) -> None:
    """_upsample_rows and _yuv_stripe for one stripe, by ml.compose_kernels' compiled loops
    (the same bits)."""
    loops = compose_kernels.kernels()
    u, v = buffers[:2]
    loops.upsampled(*planes, *axes, rows.start, u, v)
    loops.yuv_codes(gray.reshape(-1), u.reshape(-1), v.reshape(-1), ref.RGB_FROM_YUV,
                    out.reshape(-1, 3))  # fmt: skip


# The gamut's limits in linear RGB, in float32 (numpy compares a float32 plane with a Python
# float in float32).
_LIMITS = np.array([-ref._EPS_LOW, 1 + ref._EPS_HIGH], dtype=np.float32)


def _lightness_and_y(gray: np.ndarray, lightness: np.ndarray, y: np.ndarray, spare) -> None:
    """L* = 116 f(Y) - 16 of gray values (Y their linear value), and lab_to_linear_rgb's f(Y)
    back from it: (L* + 16) / 116."""
    _f(srgb_to_linear(gray, out=spare), out=lightness)
    lightness *= _F32(116.0)
    lightness -= _F32(16.0)
    np.add(lightness, _F32(16.0), out=y)
    y /= _F32(116.0)


@functools.cache
def _gray8_tables() -> tuple[np.ndarray, ...]:
    """The 256 gray values of an 8-bit photo (to_gray's k / 255) and, computed by the very
    operations a stripe applies to each pixel, their L*, f(Y) and linear Y (white-scaled)."""
    gray = np.arange(256, dtype=np.float32) / np.float32(255.0)
    lightness, y, spare = (np.empty(256, dtype=np.float32) for _ in range(3))
    _lightness_and_y(gray, lightness, y, spare)
    with np.errstate(all="ignore"):
        linear_y = _f_inv(y.copy(), out=np.empty(256, dtype=np.float32))
    linear_y *= ref.WHITE_D65[1]
    return gray, lightness, y, linear_y


def _gray8_codes(gray: np.ndarray, spare: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """The 8-bit codes of a stripe's gray values (into `codes`) when every one is exactly one of
    an 8-bit photo's 256 (a grayscale scan, a grey photo saved as colour), else None.

    Their L* and linear Y then come from a table, the same bits: a third of compose's work (a
    power, a cube root and a cube per pixel) becomes two lookups."""
    values = _gray8_tables()[0]
    first = np.clip(np.rint(gray[:1] * _F32(255.0)), 0, 255).astype(np.uint8)
    if not np.array_equal(values[first], gray[:1]):  # a colour photo's gray: known at once
        return None
    np.multiply(gray, _F32(255.0), out=spare)
    np.rint(spare, out=spare)
    np.clip(spare, _F32(0.0), _F32(255.0), out=spare)  # NaN stays NaN: no code matches it
    np.copyto(codes, spare, casting="unsafe")
    np.take(values, codes, out=spare, mode="clip")
    return codes if np.array_equal(spare, gray) else None


def _fitted_linear(lab: np.ndarray) -> np.ndarray:
    """lab_to_linear_rgb(_fit_into_gamut(lab)) of out-of-gamut colours (N, 3), the reference's
    steps one by one, but the linear RGB that the fit's own check computed is kept rather than
    computed again (at 24 MP a network's result can have millions of such pixels)."""
    fitted = lab.copy()
    chroma = np.hypot(fitted[:, 1], fitted[:, 2])
    limit = ref.max_chroma(fitted[:, 0], np.arctan2(fitted[:, 2], fitted[:, 1]))
    fitted[:, 1:] *= np.minimum(1.0, limit / np.maximum(chroma, 1e-6))[:, None]
    linear = ref.lab_to_linear_rgb(fitted)
    still = ~np.all((linear >= -ref._EPS_LOW) & (linear <= 1 + ref._EPS_HIGH), axis=-1)
    if still.any():  # where interpolating the table overshot the gamut's edge
        linear[still] = ref.lab_to_linear_rgb(ref._bisect_into_gamut(fitted[still]))
    return linear


def _to_8bit(channels, spare: np.ndarray, out: np.ndarray) -> None:
    """lab_to_rgb's clipping and sRGB encoding, then compose's rounding to 8 bits, by table.

    Between 0 and 1 the 8-bit code rint(255 linear_to_srgb(v)) only steps up, at 255 thresholds;
    `_srgb8_tables` finds each one exactly (the smallest float32 that the reference formula
    gives the next code), so looking a value up gives the reference's own code. Checked for
    every one of the 1 065 353 217 float32 values in [0, 1] when written: no difference."""
    base, threshold = _srgb8_tables()
    bucket = spare.view(np.int32)
    codes = np.empty(spare.shape, dtype=np.uint8)
    above = np.empty(spare.shape, dtype=bool)
    for index, channel in enumerate(channels):
        # No clipping needed: positive floats sort as their bit patterns do, negative ones
        # (and -0.0) have negative patterns, in bucket 0 (code 0) by take's "clip", and those
        # above 1.0 land in the last bucket (code 255), as the reference's clipping gives.
        bits = channel.view(np.int32)
        np.right_shift(bits, _BUCKET_SHIFT, out=bucket)
        np.take(base, bucket, out=codes, mode="clip")
        np.take(threshold, bucket, out=bucket, mode="clip")
        np.greater_equal(bits, bucket, out=above)
        codes += above
        out[..., index] = codes


# A bucket is 2**13 float32 values (0.1 % of its value): codes are at least 0.9 % apart there,
# so a bucket holds at most one threshold.
_BUCKET_SHIFT = 13
_ONE_BITS = 0x3F800000  # 1.0f


def _srgb8_code(values: np.ndarray) -> np.ndarray:
    """The reference: compose's 8-bit code of clipped linear values (float32, 0-1)."""
    encoded = np.clip(ref.linear_to_srgb(values), 0.0, 1.0)
    return np.round(encoded * 255.0).astype(np.uint8)


@functools.cache
def _srgb8_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per bucket of float32 bit patterns: its first value's code, and the bit pattern where the
    next code starts if that is inside the bucket (else the largest int32)."""
    low = np.zeros(255, dtype=np.int64)
    high = np.full(255, _ONE_BITS, dtype=np.int64)
    wanted = np.arange(1, 256)
    for _ in range(32):  # bisection on bit patterns: the smallest with a code >= wanted
        middle = (low + high) // 2
        reached = _srgb8_code(middle.astype(np.int32).view(np.float32)) >= wanted
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    starts = np.arange((_ONE_BITS >> _BUCKET_SHIFT) + 1, dtype=np.int64) << _BUCKET_SHIFT
    base = np.searchsorted(high, starts, side="right")
    ends = starts + (1 << _BUCKET_SHIFT)
    assert np.all(np.searchsorted(high, ends - 1, side="right") - base <= 1)
    following = np.append(high, np.iinfo(np.int32).max)[base]
    threshold = np.where(following < ends, following, np.iinfo(np.int32).max)
    return base.astype(np.uint8), threshold.astype(np.int32)


@np.errstate(all="ignore")
def _yuv_stripe(
    gray: np.ndarray, u: np.ndarray, v: np.ndarray, buffers: list, out, known=None
) -> None:
    """ml.color.yuv_to_rgb for one stripe (in float64 as it), written into `out` (8-bit)."""
    luma, free, scale, limit, spare, *chroma = buffers
    np.copyto(luma, gray)
    np.subtract(1.0, luma, out=free)
    scale.fill(np.inf)
    for index, target in enumerate(chroma):  # RGB = Y + chroma: U, V through the matrix
        row = ref.RGB_FROM_YUV[index]
        np.multiply(u, row[1], out=target)
        np.multiply(v, row[2], out=spare)
        target += spare
        # The largest s with 0 <= Y + s * c <= 1 for this channel (inf where c is 0).
        limit.fill(np.inf)
        np.divide(free, target, out=limit, where=target > 0)
        np.negative(luma, out=spare)
        np.divide(spare, target, out=limit, where=target < 0)
        np.minimum(scale, limit, out=scale)
    np.clip(scale, 0.0, 1.0, out=scale)
    for index, target in enumerate(chroma):
        target *= scale
        target += luma
        np.clip(target, 0.0, 1.0, out=target)
        target *= 255.0
        np.rint(target, out=target)
        out[..., index] = target
