"""A result's PNG written on every core: `encode(image, level)`, decoded by any PNG reader to
exactly the image's pixels.

Pillow writes a PNG on one core, holding the GIL: for a 24-megapixel result at zlib level 3, a
third of its time choosing each row's filter (it tries all five) and the rest deflating. A PNG's
pixels are one zlib stream, but a zlib stream may be made of pieces deflated independently, each
ending on a byte boundary (a sync flush), as pigz does: so each thread filters and deflates its
own band of rows (zlib releases the GIL), and the pieces are joined with one header, an empty
last block and the Adler-32 of the whole, combined from each band's. Every row gets PNG's Paeth
filter, computed by numpy without branches: on colorized photos Pillow's per-row choice picks it
for most rows, and its output compresses within about 1 % of Pillow's at the same level (the
"Up" filter alone, tried earlier, was 7-16 % larger). `python -m ml.pipeline_benchmark --png`
compares both encoders at levels 1, 2 and 3.

At levels 1-3 the deflating is Intel's ISA-L (the `isal` package) where it is installed: on a
40-megapixel result it deflated the filtered rows in 0.17 s on one core where zlib at level 2
took 0.87 s, into 3 % fewer bytes (ISA-L's levels are 0-3 and its 0 is not zlib's "stored", so
level 0 and levels above 3 stay zlib's). Either way the stream is standard deflate.

Modes other than 8-bit L, LA, RGB and RGBA, and images whose info asks Pillow for more chunks
(an ICC profile, a transparent colour), are written by Pillow itself.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from ml import color_fast

try:  # a wheel on PyPI for the usual platforms; zlib does the same job slower without it
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - a platform without its wheel
    _isal = None

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Mode: (PNG colour type, bytes per pixel).
_FORMATS = {"L": (0, 1), "LA": (4, 2), "RGB": (2, 3), "RGBA": (6, 4)}
_PAETH = 4  # PNG filter type
_ADLER_BASE = 65521
# Rows filtered at a time, about this many bytes: the int16 scratch stays in the CPU's cache.
_STRIPE_BYTES = 1 << 18
# Below this many bytes of pixels one band (threads would cost more than they save).
_MIN_PARALLEL_BYTES = 1 << 20


def encode(image: Image.Image, level: int) -> bytes:
    """The PNG of `image` at zlib `level` (0-9): the same pixels as Pillow's, other bytes."""
    if (
        image.mode not in _FORMATS
        or image.width == 0
        or image.height == 0
        or any(key in image.info for key in ("icc_profile", "transparency"))
    ):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()
    colour_type, depth = _FORMATS[image.mode]
    rows = np.asarray(image).reshape(image.height, image.width * depth)
    bands = _bands(rows.shape[0], rows.shape[1])
    pieces: list[tuple[bytes, int, int]] = [(b"", 1, 0)] * len(bands)

    def work(indices: list[int]) -> None:
        for index in indices:
            pieces[index] = _deflate(rows, bands[index], depth, level)

    color_fast.run_parts(list(range(len(bands))), work)
    checksum = pieces[0][1]
    for _, adler, length in pieces[1:]:
        checksum = _adler32_combine(checksum, adler, length)
    # zlib's own header for the level; the pieces; an empty last block; the checksum.
    stream = b"".join([zlib.compress(b"", level)[:2], *(data for data, _, _ in pieces), b"\x03\x00",
                       struct.pack(">I", checksum)])  # fmt: skip
    size = struct.pack(">IIBBBBB", image.width, image.height, 8, colour_type, 0, 0, 0)
    return b"".join([_SIGNATURE, _chunk(b"IHDR", size), _chunk(b"IDAT", stream),
                     _chunk(b"IEND", b"")])  # fmt: skip


def _bands(height: int, row_bytes: int) -> list[slice]:
    """Contiguous bands of rows, one per thread (one for a small image)."""
    count = color_fast.threads() if height * row_bytes >= _MIN_PARALLEL_BYTES else 1
    share = -(-height // max(1, min(count, height)))
    return [slice(top, min(top + share, height)) for top in range(0, height, share)]


def _deflate(rows: np.ndarray, band: slice, depth: int, level: int) -> tuple[bytes, int, int]:
    """A band's Paeth-filtered scanlines as raw deflate ending with a sync flush (so that the
    next band's piece can follow), with their Adler-32 and length."""
    compressor = _compressor(level)
    width = rows.shape[1]
    step = max(1, _STRIPE_BYTES // (width + 1))
    lines = np.empty((step, width + 1), dtype=np.uint8)
    lines[:, 0] = _PAETH
    scratch = np.empty((4, step, width), dtype=np.int16)
    zeros = np.zeros((1, width), dtype=np.uint8)  # PNG's row above the first
    out, adler, length = [], 1, 0
    for top in range(band.start, band.stop, step):
        bottom = min(top + step, band.stop)
        count = bottom - top
        target = lines[:count]
        if top == 0:
            paeth(rows[:1], zeros, depth, target[:1, 1:], scratch[:, :1])
            if count > 1:
                paeth(rows[1:bottom], rows[: bottom - 1], depth, target[1:, 1:],
                      scratch[:, 1:count])  # fmt: skip
        else:
            paeth(rows[top:bottom], rows[top - 1 : bottom - 1], depth, target[:, 1:],
                  scratch[:, :count])  # fmt: skip
        data = target.data
        adler = zlib.adler32(data, adler)
        length += target.size
        out.append(compressor.compress(data))
    out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out), adler, length


def _compressor(level: int):
    """A raw-deflate compressor (no zlib header or checksum: encode writes them) at `level`."""
    if _isal is not None and 1 <= level <= 3:
        return _isal.compressobj(level, zlib.DEFLATED, -15)
    return zlib.compressobj(level, zlib.DEFLATED, -15)


def paeth(rows: np.ndarray, above: np.ndarray, depth: int, out: np.ndarray,
          scratch: np.ndarray) -> None:  # fmt: skip
    """PNG's Paeth filter of `rows` (r, n bytes) under the rows `above` them, into `out` (uint8);
    `scratch` is (4, r, n) int16.

    The predictor of a byte, from its left neighbour a, the byte above b and above-left c: a if
    |b - c| <= |a - c| and |b - c| <= |a + b - 2c|, else b if |a - c| <= |a + b - 2c|, else c.
    Computed as differences from c, with the choices as 0/1 factors rather than masks (a masked
    copy branches on every byte: several times slower on a photo's unpredictable choices)."""
    up, left, size, pick = scratch  # b - c and a - c, then what each step says
    corner = above[:, :-depth]
    np.subtract(above[:, depth:], corner, out=up[:, depth:], dtype=np.int16)
    np.subtract(rows[:, :-depth], corner, out=left[:, depth:], dtype=np.int16)
    up[:, :depth] = above[:, :depth]  # the first pixel has no left: a = c = 0
    left[:, :depth] = 0
    np.add(up, left, out=size)
    np.abs(size, out=size)  # |a + b - 2c|
    np.abs(left, out=pick)  # |a - c|
    np.minimum(pick, size, out=size)
    np.equal(pick, size, out=pick)  # 1 where |a - c| <= |a + b - 2c|: b, unless a
    np.multiply(up, pick, out=pick)  # b - c there, else 0
    np.abs(up, out=up)
    np.less_equal(up, size, out=up)  # 1 where a
    np.subtract(left, pick, out=left)
    np.multiply(left, up, out=left)
    np.add(left, pick, out=left)  # the predictor minus c
    np.subtract(rows, left, out=out, casting="unsafe")  # modulo 256, as PNG's filters are
    np.subtract(out[:, depth:], corner, out=out[:, depth:])


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two byte strings joined, from each one's checksum: the sums A (1 + the
    bytes) and B (the running total of A) of the second part all shift by the first's A - 1."""
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
