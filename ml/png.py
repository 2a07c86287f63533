"""PNG encoding of a result on every core: `encode(image, level)`.

A 24-megapixel result is 72 MB of pixels; Pillow compresses them on one core (its level 6, the
default, took 5 s for 12 megapixels here, and level 1 still a second). A PNG's pixels are one
zlib stream, but a zlib stream may be made of pieces deflated independently, each ending on a
byte boundary (a sync flush) but the last: so each thread filters and deflates its own band of
rows, and the pieces are joined with one header and the checksum of the whole. The filter is
PNG's "Up" (each byte minus the byte above it) on every row: computed in one vectorised pass,
it compresses photos within a few per cent of Pillow's per-row choice at the same level
(`python -m ml.pipeline_benchmark --png` prints both). Decoders see an ordinary PNG.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image

from ml import color_fast

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}
_UP = 2  # PNG filter type
_ADLER_BASE = 65521
_CHUNK_ROWS_PIXELS = 1 << 18  # rows filtered and deflated at a time: bounded scratch memory


def encode(image: Image.Image, level: int) -> bytes:
    """The PNG of an 8-bit L, LA, RGB or RGBA image (other modes: Pillow's own encoder)."""
    if image.mode not in _COLOUR_TYPES or image.width == 0 or image.height == 0:
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()
    pixels = np.asarray(image)
    height, width = image.height, image.width
    rows = pixels.reshape(height, -1)  # one PNG scanline per row, without its filter byte
    bands = _bands(height, width)
    pieces: list[tuple[bytes, int, int]] = [(b"", 1, 0)] * len(bands)

    def work(band_indices: list[int]) -> None:
        for index in band_indices:
            band = bands[index]
            pieces[index] = _deflate(rows, band, level, last=band.stop == height)

    color_fast.run_parts(list(range(len(bands))), work)
    checksum = pieces[0][1]
    for _, adler, length in pieces[1:]:
        checksum = _adler32_combine(checksum, adler, length)
    stream = b"".join([b"\x78\x01", *(data for data, _, _ in pieces), struct.pack(">I", checksum)])
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[image.mode], 0, 0, 0)
    return b"".join([_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", stream),
                     _chunk(b"IEND", b"")])  # fmt: skip


def _bands(height: int, width: int) -> list[slice]:
    """Contiguous bands of rows, one per thread."""
    count = max(1, min(color_fast.threads(), height))
    share = -(-height // count)
    return [slice(top, min(top + share, height)) for top in range(0, height, share)]


def _deflate(rows: np.ndarray, band: slice, level: int, last: bool) -> tuple[bytes, int, int]:
    """A band's filtered scanlines deflated (raw deflate, ending with a sync flush unless it is
    the last band), with their Adler-32 checksum and length."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    step = max(1, _CHUNK_ROWS_PIXELS // max(rows.shape[1], 1))
    scratch = np.empty((step, rows.shape[1] + 1), dtype=np.uint8)
    scratch[:, 0] = _UP
    out, adler, length = [], 1, 0
    for top in range(band.start, band.stop, step):
        bottom = min(top + step, band.stop)
        lines = scratch[: bottom - top]
        if top == 0:  # above the first row, PNG's "Up" sees zeros
            lines[0, 1:] = rows[0]
            np.subtract(rows[1:bottom], rows[: bottom - 1], out=lines[1:, 1:])
        else:
            np.subtract(rows[top:bottom], rows[top - 1 : bottom - 1], out=lines[:, 1:])
        data = lines.data
        adler = zlib.adler32(data, adler)
        length += lines.size
        out.append(compressor.compress(data))
    out.append(compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
    return b"".join(out), adler, length


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
