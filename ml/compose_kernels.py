"""compose's stripes (ml.color_fast) as compiled loops over the pixels, by Numba.

numpy makes a pass over the stripe for every operation: upsampling the chroma, Lab to XYZ,
the 3 x 3 matrix, the gamut check and the 8-bit encoding took about 50 passes, each reading
and writing whole planes, and fitting an out-of-gamut colour (ml.colorspace's table of the
gamut's largest chroma) 30 more over those pixels. Here loops do the same float32 (YUV and
the fit's scale: float64) operations, in the same order, one pixel at a time, so that the
results are the same bits (tests/ml/test_color_fast.py checks it against the reference
formulas). numpy's own transcendental functions stay numpy's, between the loops: Lab's cube
(its float32 power differs from a correctly rounded cube in about a fifth of the values), and
the fit's hypot and arctan2, called on arrays laid out as the reference lays them out (numpy
picks its SIMD loops by layout). Numba compiles the loops at their first call and keeps them on
disk (its cache, beside this file or in the user's cache directory). Where Numba is not
installed, ml.color_fast's numpy passes run instead (`available`).

The loops take flat arrays: a stripe's planes are contiguous (`.reshape(-1)` is a view).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from ml import numba_loops

_F32 = np.float32


class Loops(NamedTuple):
    """The compiled loops."""

    table_lightness: Any
    upsampled: Any
    lab_f: Any
    linear_rgb: Any
    codes: Any
    fit: Any
    yuv_codes: Any


@functools.cache
def kernels() -> Loops | None:
    """The compiled loops, or None where Numba is not installed."""
    loops = numba_loops.compiled(
        (table_lightness, upsampled, lab_f, linear_rgb, codes, fit, yuv_codes)
    )
    return None if loops is None else Loops(*loops)


def available() -> bool:
    """Whether compose's stripes run compiled."""
    return kernels() is not None


def table_lightness(gray, values, lightness_of, linear_y_of, lightness, linear_y) -> bool:
    """L* and linear Y by table, as ml.color_fast._lightness_y gets them when every gray value
    is one of an 8-bit photo's 256 (`values`, k / 255): whether every one is (else what was
    written is to be computed by the formula)."""
    for index in range(len(gray)):
        value = gray[index]
        if value != value:  # NaN: no code's value
            return False
        code = int(min(max(np.rint(value * _F32(255.0)), _F32(0.0)), _F32(255.0)))
        if values[code] != value:
            return False
        lightness[index] = lightness_of[code]
        linear_y[index] = linear_y_of[code]
    return True


def upsampled(a_small, b_small, row_axis, col_axis, first_row, a, b) -> None:
    """A stripe's two chroma planes (rows, width; its first row `first_row` of the photo)
    bilinearly upsampled from (h, w) planes as ml.color_fast._upsample_rows does it. row_axis,
    col_axis: ml.colorspace._axis's (first index, second index, weight) per row and column of
    the photo."""
    (y0, y1, wy), (x0, x1, wx) = row_axis, col_axis
    picked_a = np.empty(a_small.shape[1], dtype=np.float32)
    picked_b = np.empty(a_small.shape[1], dtype=np.float32)
    one = _F32(1.0)
    for row in range(a.shape[0]):
        top, bottom, down = y0[first_row + row], y1[first_row + row], wy[first_row + row]
        up = one - down
        for col in range(a_small.shape[1]):  # the row of the small planes at this height
            picked_a[col] = a_small[top, col] * up + a_small[bottom, col] * down
            picked_b[col] = b_small[top, col] * up + b_small[bottom, col] * down
        for col in range(a.shape[1]):
            right = wx[col]
            left = one - right
            a[row, col] = picked_a[x0[col]] * left + picked_a[x1[col]] * right
            b[row, col] = picked_b[x0[col]] * left + picked_b[x1[col]] * right


def lab_f(lightness, a, b, fx, fz) -> None:
    """Lab's f(X) and f(Z) of each pixel, as ml.colorspace's lab_to_linear_rgb computes them
    (with f(Y) = (L* + 16) / 116)."""
    for index in range(len(a)):
        y = (lightness[index] + _F32(16.0)) / _F32(116.0)
        fx[index] = a[index] / _F32(500.0) + y
        fz[index] = y - b[index] / _F32(200.0)


def linear_rgb(cube_x, linear_y, cube_z, white, matrix, limits, nan_outside, linear, outside):
    """Each pixel's linear RGB (3, n) from f(X)^3, linear Y and f(Z)^3 (X and Z scaled by the
    white here), as ml.color_fast._lab_stripe computes it, and whether it is out of the gamut
    (a channel below limits[0] or above limits[1]; with a NaN channel: `nan_outside`, as
    ml.colorspace's fit checks it; else no, as numpy's minimum and maximum tell it). Returns
    how many are out."""
    count = 0
    for index in range(len(cube_x)):
        x = cube_x[index] * white[0]
        y = linear_y[index]
        z = cube_z[index] * white[2]
        red = x * matrix[0, 0]
        red += y * matrix[0, 1]
        red += z * matrix[0, 2]
        green = x * matrix[1, 0]
        green += y * matrix[1, 1]
        green += z * matrix[1, 2]
        blue = x * matrix[2, 0]
        blue += y * matrix[2, 1]
        blue += z * matrix[2, 2]
        linear[0, index], linear[1, index], linear[2, index] = red, green, blue
        low = min(red, green, blue) < limits[0]
        high = max(red, green, blue) > limits[1]
        nan = (red != red) | (green != green) | (blue != blue)
        flag = (low | high | nan) if nan_outside else ((low | high) & ~nan)  # no branches
        outside[index] = flag
        count += flag
    return count


def codes(linear, tables, shift, out) -> None:
    """The 8-bit codes (n, 3) of linear RGB values (3, n), as ml.color_fast._to_8bit looks them
    up: tables, its (first code, threshold) per bucket of `shift` bits of a float32's pattern,
    clipped into the table."""
    base, threshold = tables
    last = len(base) - 1
    bits = linear.view(np.int32)
    for index in range(linear.shape[1]):
        for channel in range(3):
            pattern = bits[channel, index]
            bucket = min(max(pattern >> shift, 0), last)
            out[index, channel] = base[bucket] + (pattern >= threshold[bucket])


def fit(lab, chroma, hue, table, fitted, fx, fy, fz) -> None:
    """ml.color_fast._fitted_linear's steps up to Lab's cube for out-of-gamut colours (n, 3),
    their chroma and hue given (numpy's hypot and arctan2): the gamut's largest chroma at
    their lightness and hue from `table` (ml.colorspace.max_chroma, its float64 arithmetic),
    a and b scaled to it (`fitted`), and f(X), f(Y), f(Z) of the result."""
    steps_l, steps_h = table.shape[0] - 1, table.shape[1] - 1
    for index in range(len(lab)):
        li = min(max(lab[index, 0], _F32(0.0)), _F32(100.0)) * _F32(steps_l / 100)
        hi = (hue[index] + _F32(np.pi)) * _F32(steps_h / (2 * np.pi))
        l0 = min(np.int32(li), steps_l - 1)
        h0 = 0 if hi != hi else min(max(np.int32(hi), 0), steps_h - 1)  # NaN: numpy's 0
        lw, hw = np.float64(li) - l0, np.float64(hi) - h0
        top = table[l0, h0] * (1 - hw) + table[l0, h0 + 1] * hw
        bottom = table[l0 + 1, h0] * (1 - hw) + table[l0 + 1, h0 + 1] * hw
        limit = (top * (1 - lw) + bottom * lw) * np.float64(_F32(0.995)) - np.float64(_F32(0.05))
        limit = limit if limit != limit else max(limit, 0.0)  # numpy's maximum keeps NaN
        ratio = limit / np.float64(max(chroma[index], _F32(1e-6)))
        scale = ratio if ratio != ratio else min(1.0, ratio)
        a, b = np.float32(lab[index, 1] * scale), np.float32(lab[index, 2] * scale)
        fitted[index, 0], fitted[index, 1], fitted[index, 2] = lab[index, 0], a, b
        y = (lab[index, 0] + _F32(16.0)) / _F32(116.0)  # as lab_f
        fx[index], fy[index], fz[index] = a / _F32(500.0) + y, y, y - b / _F32(200.0)


def yuv_codes(gray, u, v, matrix, out) -> None:
    """The 8-bit RGB (n, 3) of each pixel from Y (the gray) and upsampled U, V, as
    ml.color_fast._yuv_stripe computes it in float64: the chroma scaled by the largest s in
    [0, 1] that keeps every channel of Y + s * chroma in [0, 1]. NaN, where numpy's cast to
    8 bits gives 0 on x86, is 0 here."""
    chroma = np.empty(3, dtype=np.float64)
    for index in range(len(gray)):
        luma = np.float64(gray[index])
        free = 1.0 - luma
        scale = np.inf
        for channel in range(3):
            value = np.float64(u[index]) * matrix[channel, 1]
            value += np.float64(v[index]) * matrix[channel, 2]
            chroma[channel] = value
            limit = np.inf
            if value > 0:
                limit = free / value
            elif value < 0:
                limit = -luma / value
            if scale != scale or limit != limit:  # numpy's minimum: NaN wins
                scale = np.nan
            elif limit < scale:
                scale = limit
        if scale == scale:  # numpy's clip keeps NaN
            scale = min(max(scale, 0.0), 1.0)
        for channel in range(3):
            value = chroma[channel] * scale + luma
            if value != value:
                out[index, channel] = 0
            else:
                out[index, channel] = np.uint8(np.rint(min(max(value, 0.0), 1.0) * 255.0))
