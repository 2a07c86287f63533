"""The colour pipeline every model shares.

A photo comes in (any mode, any orientation), is reduced to its gray values, a model predicts
chroma at its own working size, and the chroma is upsampled and joined to the photo's original
full-resolution lightness. The output therefore has the input's size and, up to 8-bit rounding,
exactly its lightness: a model only ever adds colour.

Colour maths is CIE Lab with the D65 white point (as scikit-image uses), done in float32 numpy
so that large photos stay affordable: the formulas are in ml.colorspace (re-exported here), the
full-resolution kernels that apply them to a whole photo in ml.color_fast.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from ml.colorspace import (
    LUMA,
    RGB_FROM_XYZ,
    RGB_FROM_YUV,
    WHITE_D65,
    XYZ_FROM_RGB,
    YUV_FROM_RGB,
    gray_to_lightness,
    lab_to_linear_rgb,
    lab_to_rgb,
    linear_to_srgb,
    max_chroma,
    resize_bilinear,
    rgb_to_lab,
    srgb_to_linear,
    yuv_to_rgb,
)
from ml.errors import InvalidImage

if TYPE_CHECKING:
    from ml.color_fast import Lightness

# The formulas of ml.colorspace are part of this module's interface, as they always were.
__all__ = [
    "LUMA",
    "PNG_COMPRESS_LEVEL",
    "RGB_FROM_XYZ",
    "RGB_FROM_YUV",
    "WHITE_D65",
    "XYZ_FROM_RGB",
    "YUV_FROM_RGB",
    "Chroma",
    "ImageSource",
    "alpha_of",
    "base_chroma",
    "compose",
    "encode_png",
    "gray_image",
    "gray_to_lightness",
    "lab_to_linear_rgb",
    "lab_to_rgb",
    "linear_to_srgb",
    "max_chroma",
    "mean_chroma",
    "open_image",
    "resize_bilinear",
    "rgb_to_lab",
    "srgb_to_linear",
    "to_gray",
    "yuv_to_rgb",
]


ImageSource = Image.Image | str | Path | bytes | BinaryIO


@dataclass
class Chroma:
    """A model's colour prediction at its working size, shape (h, w, 2).

    space "lab": CIE Lab a, b (joined to the photo's L*). space "yuv": BT.601 U, V of values in
    [0, 1] (joined to the photo's luma Y), for models whose official recipe keeps Y.
    """

    ab: np.ndarray
    space: str = "lab"
    # What the model chose for this photo that people may want to know or reuse (BigColor's
    # class and seed); ml.colorize hands it on in the image's info["coloria"].
    details: dict[str, Any] = field(default_factory=dict)


def open_image(source: ImageSource) -> Image.Image:
    """Open a photo and apply its EXIF orientation, so that what is colorized is what people see."""
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        try:
            image = Image.open(source)
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidImage(f"The file could not be read as an image ({exc}).") from exc
    try:
        if image.getexif().get(_ORIENTATION, 1) == 1:
            return image  # upright already: exif_transpose would only copy it (96 MB at 24 MP)
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not stop colorization
        return image


_ORIENTATION = 0x0112  # the EXIF tag


def alpha_of(image: Image.Image) -> Image.Image | None:
    """The photo's transparency as an L image, or None when it has none (or is fully opaque)."""
    if image.mode not in ("RGBA", "LA", "La", "RGBa", "PA") and not (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    ):
        return None
    alpha = image.convert("RGBA").getchannel("A")
    return None if alpha.getextrema() == (255, 255) else alpha


def to_gray(image: Image.Image) -> np.ndarray:
    """Gray values in [0, 1] (sRGB-encoded), shape (H, W), float32.

    Grayscale modes are read as they are (16-bit ones keep their precision); colour photos are
    desaturated by keeping their luminance, so their lightness is what the result keeps.
    """
    from ml import color_fast

    mode = image.mode
    if mode == "1":  # bilevel scans: numpy reads their pixels as booleans, so go through L
        return color_fast.gray_of_codes(np.asarray(image.convert("L")))
    if mode in ("L", "LA", "La"):
        return color_fast.gray_of_codes(np.asarray(image if mode == "L" else image.getchannel(0)))
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        return np.clip(values / (255.0 if values.max(initial=0) > 1.0 else 1.0), 0.0, 1.0)
    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    if _is_gray(rgb):
        return color_fast.gray_of_codes(rgb[..., 0])
    # The luminance of each pixel's linear RGB, LUMA-weighted, back to sRGB: what
    # color_fast.gray_of_rgb computes, the same bit for bit, faster.
    return color_fast.gray_of_rgb(rgb)


def _is_gray(rgb: np.ndarray) -> bool:
    """Whether an RGB array's three channels are equal (a grey scan saved as colour). A sample of
    rows first, so that a colour photo is told apart without reading all of it."""
    sample = rgb[:: max(1, rgb.shape[0] // 64)]
    for part in (sample, rgb):
        if not (
            np.array_equal(part[..., 0], part[..., 1])
            and np.array_equal(part[..., 1], part[..., 2])
        ):
            return False
    return True


def compose(gray: np.ndarray, chroma: Chroma, lightness: Lightness | None = None) -> Image.Image:
    """Join predicted chroma (any size) to the full-resolution lightness of `gray`, a stripe of
    rows at a time (memory stays bounded whatever the photo's size).

    Per pixel, the chroma is upsampled by `resize_bilinear`'s arithmetic, and then joined by
    `gray_to_lightness` and `lab_to_rgb` (space "lab") or by `yuv_to_rgb` (space "yuv"), rounded
    to 8 bits; ml.color_fast computes exactly that in stripes, on every core (compiled loops
    where Numba is installed: ml.compose_kernels). `lightness`: a
    `color_fast.Lightness` of `gray`, the part of it computed beforehand (the same bits, sooner)."""
    from ml import color_fast

    ab = np.asarray(chroma.ab, dtype=np.float32)
    gray = np.asarray(gray, dtype=np.float32)
    known = lightness if chroma.space == "lab" else None
    return Image.fromarray(color_fast.compose_rgb(gray, ab, chroma.space, known))


# zlib level of the PNG a result is stored as (downloads), written on every core by ml.png
# (Paeth-filtered bands deflated by threads; Pillow writes on one core and tries 5 filters a
# row). Measured on 12-megapixel results (python -m ml.pipeline_benchmark --png), in CPU seconds
# since the 2 shared cores (load 5) gave no steady wall times: scribbles' result by Pillow at
# level 3 (the level before) 1.03 s for 7.14 MB; by ml.png at level 3 0.81 s for 7.17 MB, at
# level 2 0.50 s for 7.54 MB (+6 %); a network's result 0.55 / 0.36 / 0.30 s for 3.24 / 3.28 /
# 3.49 MB (+8 %). ml.png's threads then share that CPU time between the cores. Level 2: half of
# the CPU time for 6-8 % more bytes. Since then ml.png deflates with ISA-L at levels 1-3: a
# 40-megapixel scribbles result at level 2 in 0.58 CPU s rather than zlib's 1.24 s, 19.6 MB
# rather than 20.1 MB.
PNG_COMPRESS_LEVEL = 2


def encode_png(image: Image.Image) -> bytes:
    """A result as the PNG the site stores (lossless: any level decodes to the same pixels)."""
    from ml import png

    return png.encode(image, PNG_COMPRESS_LEVEL)


def base_chroma(source: ImageSource, pixels: int = 500_000) -> np.ndarray:
    """The a, b (h, w, 2) of an earlier colorization, at most `pixels` large: the starting point
    of a model that refines it (colour needs no more resolution than that)."""
    image = open_image(source).convert("RGB")
    scale = min(1.0, (pixels / (image.width * image.height)) ** 0.5)
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    return rgb_to_lab(rgb)[..., 1:]


def mean_chroma(image: Image.Image) -> float:
    """How colourful an image is: the mean a*b* chroma of a small copy (a grey scan saved as RGB
    has about 0, a colour photo tens)."""
    small = image.convert("RGB")
    small.thumbnail((128, 128))
    ab = rgb_to_lab(np.asarray(small, dtype=np.float32) / 255.0)[..., 1:]
    return float(np.hypot(ab[..., 0], ab[..., 1]).mean())


def gray_image(gray: np.ndarray) -> Image.Image:
    """The 8-bit grayscale image of gray values, e.g. to show what a model was given."""
    from ml import color_fast

    return Image.fromarray(color_fast.codes_of_gray(np.asarray(gray)))


def resized(
    image: Image.Image, size: tuple[int, int], resample: Any, parallel: bool
) -> Image.Image:
    """image.resize(size, resample), or where `parallel` the same pixels made a band of output
    rows per thread (PIL releases the GIL while it resamples: a 12-megapixel photo's bicubic
    resize to 256 x 256 took 11 ms on two cores, not 20). A band resamples the box of source rows
    its output rows cover, with the filter's support reaching beyond it as the whole resize's
    does; the bands are exact only where their boxes' edges are exact in floating point, so
    only an output height that is a power of two is split (as in halves, quarters)."""
    from ml import color_fast

    width, height = size
    bands = 1 << (color_fast.threads().bit_length() - 1)  # a power of two
    if not parallel or bands < 2 or height & (height - 1) or height < bands:
        return image.resize(size, resample)
    tops = [height * band // bands for band in range(bands + 1)]
    scale = image.height / height
    pieces: dict[int, Image.Image] = {}

    def resize_bands(part: list[int]) -> None:
        for band in part:
            top, bottom = tops[band], tops[band + 1]
            box = (0, top * scale, image.width, bottom * scale)
            pieces[band] = image.resize((width, bottom - top), resample, box=box)

    color_fast.run_parts(list(range(bands)), resize_bands)
    out = Image.new(image.mode, size)
    for band, piece in pieces.items():
        out.paste(piece, (0, tops[band]))
    return out
