"""ml.winograd's tile transforms as compiled loops, by Numba.

In PyTorch a band's input transform is a gather of overlapping 6 x 6 tiles (unfold, then a
copy into the products' layout) and a 36 x 36 matrix product (B^T (x) B^T: 1296 multiply-adds
per tile and channel where the matrices' nonzero terms make 216 operations); its output
transform another product and another copy; each band is padded first (a copy) and a dilated
convolution splits its input into four sub-images and joins their outputs (two more copies).
On a 2-core Zen 5 EPYC these took as long as the 36 products. Here one loop reads each tile
straight from the channels-last input (a sub-image's rows and columns by stride, zeros beyond
the border: no copy), applies B^T along rows then down columns (nonzero terms only) and writes
the 36 planes the products take; another applies A^T to the products, adds the bias and
writes the output in place (channels-last, at its own size: no crop). The channels are each
loop's innermost axis, contiguous in memory, which the compiler vectorises.

The sums run in another order than the matrix products' (their results differ by float32
rounding, far within what ml.winograd's results are held to). Each loop takes a run of a
band's tiles, so that ml.winograd can split a band across threads (the loops release the GIL).
Where Numba is not installed, ml.winograd's PyTorch transforms run instead (`available`).

A band is `geometry` (dilation, its first tile row, tile rows, tile columns) of an input of
`shape` (N, H, W, C): its tiles, in (n, row phase, column phase, tile row, tile column) order,
cover the dilation x dilation sub-images (rows phase, phase + dilation, ...); a tile's 6 x 6
inputs lie at a sub-image's rows and columns 4 t - 1 .. 4 t + 4, its 4 x 4 outputs at 4 t ..
4 t + 3.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from ml import numba_loops

try:
    from numba.extending import register_jitable
except ImportError:  # the loops are not compiled (`kernels`)

    def register_jitable(function: Any) -> Any:
        return function


_F32 = np.float32


class Loops(NamedTuple):
    """The compiled loops."""

    input_tiles: Any
    output_tiles: Any


@functools.cache
def kernels() -> Loops | None:
    """The compiled loops, or None where Numba is not installed."""
    loops = numba_loops.compiled((input_tiles, output_tiles))
    return None if loops is None else Loops(*loops)


def available() -> bool:
    """Whether ml.winograd's transforms run compiled."""
    return kernels() is not None


@register_jitable
def band_tiles(shape: Any, geometry: Any) -> int:
    """The tiles of a band."""
    dilation, _, rows, cols = geometry
    return shape[0] * dilation * dilation * rows * cols


@register_jitable
def _tile(tile, geometry):
    """A band's tile's image n, row and column phases, tile row and tile column."""
    dilation, top, rows, cols = geometry
    c = tile % cols
    r = (tile // cols) % rows + top
    phases = tile // (cols * rows)
    n, phase = phases // (dilation * dilation), phases % (dilation * dilation)
    return n, phase // dilation, phase % dilation, r, c


@register_jitable
def _pixel(image, outside, row_start, sub_col, sub_width, dilation, col_phase):
    """A tile's pixel's channels (a view) at a column of the sub-image: in the image (row_start:
    where its row starts, or -1 outside it), or `outside` where the pixel is (zeros to read, or
    scratch to write what no output keeps)."""
    channels = len(outside)
    if row_start < 0 or sub_col < 0 or sub_col >= sub_width:
        return outside
    at = row_start + (dilation * sub_col + col_phase) * channels
    return image[at : at + channels]


@register_jitable
def _row_start(n, sub_row, row_phase, shape, dilation):
    """Where an image row's pixels start in a flat channels-last array, or -1 outside."""
    _, height, width, channels = shape
    if sub_row < 0 or sub_row >= height // dilation:
        return -1
    return ((n * height + dilation * sub_row + row_phase) * width) * channels


def input_tiles(x, shape, geometry, first, last, out) -> None:
    """B^T d B of a band's tiles first .. last - 1 into `out`, the 36 planes (band tiles, C) the
    products take, flat; x: the input (N, H, W, C), flat."""
    channels, dilation = shape[3], geometry[0]
    sub_width = shape[2] // dilation
    plane = band_tiles(shape, geometry) * channels
    zeros = np.zeros(channels, dtype=x.dtype)
    rows_done = np.empty(36 * channels, dtype=x.dtype)  # B^T along rows: (6 rows, 6, C)
    for tile in range(first, last):
        n, row_phase, col_phase, r, c = _tile(tile, geometry)
        for i in range(6):
            start = _row_start(n, 4 * r + i - 1, row_phase, shape, dilation)
            _b_t(
                (
                    _pixel(x, zeros, start, 4 * c - 1, sub_width, dilation, col_phase),
                    _pixel(x, zeros, start, 4 * c, sub_width, dilation, col_phase),
                    _pixel(x, zeros, start, 4 * c + 1, sub_width, dilation, col_phase),
                    _pixel(x, zeros, start, 4 * c + 2, sub_width, dilation, col_phase),
                    _pixel(x, zeros, start, 4 * c + 3, sub_width, dilation, col_phase),
                    _pixel(x, zeros, start, 4 * c + 4, sub_width, dilation, col_phase),
                ),
                _six(rows_done, 6 * i * channels, channels, channels),
            )
        for j in range(6):  # B^T down the column: planes j, 6 + j, ... 30 + j
            _b_t(
                _six(rows_done, j * channels, 6 * channels, channels),
                _six(out, j * plane + tile * channels, 6 * plane, channels),
            )


@register_jitable
def _six(flat, start, step, length):
    """Six views of `length` values of a flat array, `step` apart from `start`."""
    return (
        flat[start : start + length],
        flat[start + step : start + step + length],
        flat[start + 2 * step : start + 2 * step + length],
        flat[start + 3 * step : start + 3 * step + length],
        flat[start + 4 * step : start + 4 * step + length],
        flat[start + 5 * step : start + 5 * step + length],
    )


@register_jitable
def _b_t(d, e) -> None:
    """B^T of six vectors (d: a tile's row or column, channel by channel) into six others, e
    (views: the loop runs over contiguous values, which the compiler vectorises)."""
    d0, d1, d2, d3, d4, d5 = d
    e0, e1, e2, e3, e4, e5 = e
    for ch in range(len(d0)):
        a0, a1, a2, a3, a4, a5 = d0[ch], d1[ch], d2[ch], d3[ch], d4[ch], d5[ch]
        e0[ch] = _F32(4.0) * a0 - _F32(5.0) * a2 + a4
        e1[ch] = a3 + a4 - _F32(4.0) * (a1 + a2)
        e2[ch] = _F32(4.0) * (a1 - a2) - a3 + a4
        e3[ch] = _F32(2.0) * (a3 - a1) - a2 + a4
        e4[ch] = _F32(2.0) * (a1 - a3) - a2 + a4
        e5[ch] = _F32(4.0) * a1 - _F32(5.0) * a3 + a5


def output_tiles(products, bias, shape, geometry, first, last, out) -> None:
    """A^T m A (+ bias) of a band's tiles first .. last - 1 into `out` (N, H, W, C), flat,
    where they fall inside it; products: the 36 planes (band tiles, C), flat."""
    channels, dilation = shape[3], geometry[0]
    sub_width = shape[2] // dilation
    sink = np.empty(channels, dtype=out.dtype)  # what falls outside the image
    cols_done = np.empty(24 * channels, dtype=out.dtype)  # A^T down columns: (4 rows, 6, C)
    for tile in range(first, last):
        n, row_phase, col_phase, r, c = _tile(tile, geometry)
        at = tile * channels
        for j in range(6):
            m = (
                products[j][at : at + channels],
                products[6 + j][at : at + channels],
                products[12 + j][at : at + channels],
                products[18 + j][at : at + channels],
                products[24 + j][at : at + channels],
                products[30 + j][at : at + channels],
            )
            columns = _six(cols_done, j * channels, 6 * channels, channels)[:4]  # 4 of 6 rows
            _a_t(m, columns, bias, False)
        for a in range(4):
            start = _row_start(n, 4 * r + a, row_phase, shape, dilation)
            if start < 0:
                break
            e = (
                _pixel(out, sink, start, 4 * c, sub_width, dilation, col_phase),
                _pixel(out, sink, start, 4 * c + 1, sub_width, dilation, col_phase),
                _pixel(out, sink, start, 4 * c + 2, sub_width, dilation, col_phase),
                _pixel(out, sink, start, 4 * c + 3, sub_width, dilation, col_phase),
            )
            _a_t(_six(cols_done, 6 * a * channels, channels, channels), e, bias, True)


@register_jitable
def _a_t(m, e, bias, biased) -> None:
    """A^T of six vectors, m, into four, e (+ bias where `biased`), as `_b_t`."""
    m0, m1, m2, m3, m4, m5 = m
    e0, e1, e2, e3 = e
    for ch in range(len(m0)):
        a0, a1, a2, a3, a4, a5 = m0[ch], m1[ch], m2[ch], m3[ch], m4[ch], m5[ch]
        b = bias[ch] if biased else _F32(0.0)
        e0[ch] = a0 + a1 + a2 + a3 + a4 + b
        e1[ch] = a1 - a2 + _F32(2.0) * (a3 - a4) + b
        e2[ch] = a1 + a2 + _F32(4.0) * (a3 + a4) + b
        e3[ch] = a1 - a2 + _F32(8.0) * (a3 - a4) + a5 + b
