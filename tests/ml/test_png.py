"""ml.png: a result's PNG written on every core decodes to exactly its pixels, and is a valid
PNG byte for byte (chunk CRCs, one zlib stream with its checksum)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ml import color, color_fast, png


def _photo_like(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """Smooth colour with texture and a sharp edge: what results look like to a filter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    planes = [128 + 90 * np.sin(x / 17 + k) * np.cos(y / 23 - k) for k in range(channels)]
    values = np.stack(planes, axis=-1) + rng.normal(0, 6, (height, width, channels))
    values[:, width // 2 :] += 40
    return np.clip(values, 0, 255).astype(np.uint8).squeeze()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(body, zlib.crc32(kind)), kind
        chunks.append((kind, body))
        position += 12 + length
    return chunks


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(params=[1, 3], ids=["one band", "three bands"])
def bands(request, monkeypatch):
    """Small images written as one band, or as three bands on three threads."""
    monkeypatch.setattr(png, "_MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(color_fast, "threads", lambda: request.param)
    return request.param


@pytest.fixture(params=["isal", "zlib"])
def deflater(request, monkeypatch):
    """Levels 1-3 deflated by ISA-L (a requirement), or by zlib as on a platform without it."""
    if request.param == "zlib":
        monkeypatch.setattr(png, "_isal", None)
    else:
        assert png._isal is not None, "the isal package (requirements.txt) is not installed"
    return request.param


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
@pytest.mark.parametrize("height, width", [(1, 1), (1, 37), (41, 1), (2, 3), (97, 61)])
def test_every_mode_and_odd_size_decodes_to_the_same_pixels(
    bands, deflater, mode, channels, height, width
):
    pixels = np.random.default_rng(height * width).integers(0, 256, (height, width, channels))
    image = Image.fromarray(pixels.astype(np.uint8).squeeze(axis=-1) if channels == 1
                            else pixels.astype(np.uint8), mode)  # fmt: skip
    for level in (0, 1, 2, 3, 9):
        decoded = _decoded(png.encode(image, level))
        assert decoded.mode == mode and decoded.size == image.size
        assert np.array_equal(np.asarray(decoded), np.asarray(image))


@pytest.mark.parametrize("level", [2, 6])
def test_the_stream_is_one_valid_zlib_stream_of_paeth_filtered_rows(bands, deflater, level):
    pixels = _photo_like(120, 90, 3)
    data = png.encode(Image.fromarray(pixels), level)
    chunks = _chunks(data)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (90, 120, 8, 2, 0, 0, 0)
    rows = zlib.decompress(chunks[1][1])  # checks the Adler-32 of the whole
    assert len(rows) == 120 * (1 + 90 * 3)
    assert set(rows[:: 1 + 90 * 3]) == {png._PAETH}


def _paeth_by_the_spec(rows: np.ndarray, depth: int) -> np.ndarray:
    """The PNG specification's Paeth filter, byte by byte."""
    height, width = rows.shape
    out = np.zeros_like(rows)
    for y in range(height):
        for x in range(width):
            a = int(rows[y, x - depth]) if x >= depth else 0
            b = int(rows[y - 1, x]) if y > 0 else 0
            c = int(rows[y - 1, x - depth]) if x >= depth and y > 0 else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
            out[y, x] = (int(rows[y, x]) - predictor) % 256
    return out


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_the_paeth_filter_is_the_specifications(depth):
    rng = np.random.default_rng(depth)
    rows = rng.integers(0, 256, (9, 7 * depth), dtype=np.uint8)
    rows[3:5] = 200  # flat rows and columns: the ties between predictors
    rows[:, :depth] = 7
    out = np.empty_like(rows)
    scratch = np.empty((4, *rows.shape), dtype=np.int16)
    png.paeth(rows[:1], np.zeros_like(rows[:1]), depth, out[:1], scratch[:, :1])
    png.paeth(rows[1:], rows[:-1], depth, out[1:], scratch[:, 1:])
    assert np.array_equal(out, _paeth_by_the_spec(rows, depth))


def test_adler32_of_joined_parts_is_combined_from_each_parts():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    for cut in (0, 1, 65_521, 99_999, 100_000):
        first, second = data[:cut], data[cut:]
        combined = png._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
        assert combined == zlib.adler32(data)


def test_a_result_compresses_about_as_well_as_pillows_own_choice_of_filters(deflater):
    image = Image.fromarray(_photo_like(400, 600, 3))
    for level in (2, 3):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level)
        assert len(png.encode(image, level)) <= 1.03 * buffer.tell()


def test_a_large_result_is_written_in_bands_that_decode_as_one():
    pixels = _photo_like(700, 900, 3)  # 1.9 MB of pixels: one band per thread
    assert len(png._bands(700, 900 * 3)) == min(color_fast.threads(), 700)
    assert np.array_equal(np.asarray(_decoded(color.encode_png(Image.fromarray(pixels)))), pixels)


@pytest.mark.parametrize("mode", ["1", "P", "I;16", "F", "CMYK"])
def test_other_modes_are_written_by_pillow(mode):
    image = Image.fromarray(_photo_like(20, 30, 1)).convert(mode)
    if mode in ("F", "CMYK"):  # PNG has neither: Pillow refuses them, as before
        with pytest.raises(OSError):
            png.encode(image, 2)
        return
    decoded = _decoded(png.encode(image, 2))
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_an_icc_profile_or_a_transparent_colour_is_kept_as_pillow_keeps_it():
    image = Image.fromarray(_photo_like(20, 30, 3))
    image.info["icc_profile"] = b"not really a profile, but kept"
    assert _decoded(png.encode(image, 2)).info["icc_profile"] == image.info["icc_profile"]
    grey = Image.fromarray(_photo_like(20, 30, 1))
    grey.info["transparency"] = 0
    assert _decoded(png.encode(grey, 2)).info["transparency"] == 0
