"""compose's stripes (ml.color_fast) as compiled loops over the pixels, by Numba.

numpy makes a pass over the stripe for every operation: upsampling the chroma, Lab to XYZ,
the 3 x 3 matrix, the gamut check and the 8-bit encoding took about 50 passes, each reading
and writing whole planes. Here loops do the same float32 (YUV: float64) operations, in the
same order, one pixel at a time, so that the results are the same bits
(tests/ml/test_color_fast.py checks it against the reference formulas). In Lab, numpy computes
the cube (f^-1) between two loops: its float32 power is its own (it differs from a correctly
rounded cube in about a fifth of the values), so it stays numpy's. Numba compiles the loops at
their first call and keeps them on disk (its cache, beside this file or in the user's cache
directory). Where Numba is not installed, ml.color_fast's numpy passes run instead
(`available`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

_F32 = np.float32


@functools.cache
def kernels() -> tuple[Any, ...] | None:
    """The compiled (table_lightness, upsampled, lab_f, rgb_codes, yuv_codes), or None where
    Numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    loops = (table_lightness, upsampled, lab_f, rgb_codes, yuv_codes)
    try:
        return tuple(numba.njit(nogil=True, cache=True)(loop) for loop in loops)
    except RuntimeError:  # no writable place for its cache: compiled in each process instead
        return tuple(numba.njit(nogil=True)(loop) for loop in loops)


def available() -> bool:
    """Whether compose's Lab stripes run compiled."""
    return kernels() is not None


def table_lightness(gray, values, lightness_of, linear_y_of, lightness, linear_y) -> bool:
    """A stripe's L* and linear Y by table, as ml.color_fast._lightness_y gets them when every
    gray value is one of an 8-bit photo's 256 (`values`, k / 255): whether every one is (else
    what was written is to be computed by the formula)."""
    for row in range(gray.shape[0]):
        for col in range(gray.shape[1]):
            value = gray[row, col]
            if value != value:  # NaN: no code's value
                return False
            code = int(min(max(np.rint(value * _F32(255.0)), _F32(0.0)), _F32(255.0)))
            if values[code] != value:
                return False
            lightness[row, col] = lightness_of[code]
            linear_y[row, col] = linear_y_of[code]
    return True


def upsampled(a_small, b_small, row_axis, col_axis, first_row, a, b) -> None:
    """A stripe's two chroma planes (its first row `first_row` of the photo) bilinearly
    upsampled from (h, w) planes as ml.color_fast._upsample_rows does it. row_axis, col_axis:
    ml.colorspace._axis's (first index, second index, weight) per row and column of the photo."""
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
    """Lab's f(X) and f(Z) of each pixel from L*, a, b as ml.color_fast._lab_stripe computes
    them (f(Y) = (L* + 16) / 116)."""
    for row in range(a.shape[0]):
        for col in range(a.shape[1]):
            fy = (lightness[row, col] + _F32(16.0)) / _F32(116.0)
            fx[row, col] = a[row, col] / _F32(500.0) + fy
            fz[row, col] = fy - b[row, col] / _F32(200.0)


def yuv_codes(gray, u, v, matrix, out) -> None:
    """The 8-bit RGB of each pixel from Y (the gray) and upsampled U, V, into `out`, as
    ml.color_fast._yuv_stripe computes it in float64: the chroma scaled by the largest s in
    [0, 1] that keeps every channel of Y + s * chroma in [0, 1]. NaN, where numpy's cast to
    8 bits gives 0 on x86, is 0 here."""
    chroma = np.empty(3, dtype=np.float64)
    for row in range(gray.shape[0]):
        for col in range(gray.shape[1]):
            luma = np.float64(gray[row, col])
            free = 1.0 - luma
            scale = np.inf
            for index in range(3):
                value = np.float64(u[row, col]) * matrix[index, 1]
                value += np.float64(v[row, col]) * matrix[index, 2]
                chroma[index] = value
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
            for index in range(3):
                value = chroma[index] * scale + luma
                if value != value:
                    out[row, col, index] = 0
                    continue
                value = min(max(value, 0.0), 1.0) * 255.0
                out[row, col, index] = np.uint8(np.rint(value))


def rgb_codes(cube_x, linear_y, cube_z, white, matrix, limits, tables, shift, out, outside) -> int:
    """The 8-bit RGB of each pixel of a stripe from f(X)^3, linear Y and f(Z)^3, into `out`
    (rows, width, 3), as ml.color_fast._lab_stripe and _to_8bit compute it. A pixel out of the
    gamut (a channel below limits[0] or above limits[1], none NaN, as numpy's minimum and
    maximum tell it) is marked in `outside`, for the reference's fit; returns how many.
    tables: ml.color_fast._srgb8_tables' (first code, threshold) per bucket of `shift` bits.

    A row's linear RGB first, then its codes from their bit patterns: two simple loops ran in
    half the time of one that did both a pixel at a time."""
    base, threshold = tables
    last = len(base) - 1
    width = cube_x.shape[1]
    linear = np.empty((3, width), dtype=np.float32)
    bits = linear.view(np.int32)
    count = 0
    for row in range(cube_x.shape[0]):
        for col in range(width):
            x = cube_x[row, col] * white[0]
            y = linear_y[row, col]
            z = cube_z[row, col] * white[2]
            red = x * matrix[0, 0]
            red += y * matrix[0, 1]
            red += z * matrix[0, 2]
            green = x * matrix[1, 0]
            green += y * matrix[1, 1]
            green += z * matrix[1, 2]
            blue = x * matrix[2, 0]
            blue += y * matrix[2, 1]
            blue += z * matrix[2, 2]
            linear[0, col], linear[1, col], linear[2, col] = red, green, blue
            low = min(red, green, blue) < limits[0]
            high = max(red, green, blue) > limits[1]
            nan = (red != red) | (green != green) | (blue != blue)
            flag = (low | high) & ~nan  # bitwise: no branches in the loop
            outside[row, col] = flag
            count += flag
        for col in range(width):
            for index in range(3):
                # _to_8bit's lookup: a bucket of bit patterns, clipped into the table.
                pattern = bits[index, col]
                bucket = min(max(pattern >> shift, 0), last)
                out[row, col, index] = base[bucket] + (pattern >= threshold[bucket])
    return count
