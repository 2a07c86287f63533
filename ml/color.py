"""The colour pipeline every model shares.

A photo comes in (any mode, any orientation), is reduced to its gray values, a model predicts
chroma at its own working size, and the chroma is upsampled and joined to the photo's original
full-resolution lightness. The output therefore has the input's size and, up to 8-bit rounding,
exactly its lightness: a model only ever adds colour.

Colour maths is CIE Lab with the D65 white point (as scikit-image uses), done in float32 numpy
so that large photos stay affordable.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from ml.errors import InvalidImage

# D65 reference white and the sRGB <-> XYZ matrices (IEC 61966-2-1), as in scikit-image.
WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float32,
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB).astype(np.float32)
# Luminance weights: the middle row of XYZ_FROM_RGB.
LUMA = XYZ_FROM_RGB[1]

ImageSource = Image.Image | str | Path | bytes | BinaryIO


# OpenCV's RGB -> YUV (BT.601 on gamma-encoded values, U and V centred on 0 here), which
# DeOldify's post-processing uses: luma Y from the photo, chroma U, V from the model.
YUV_FROM_RGB = np.array(
    [[0.299, 0.587, 0.114], [-0.299 * 0.492, -0.587 * 0.492, 0.886 * 0.492],
     [0.701 * 0.877, -0.587 * 0.877, -0.114 * 0.877]],
    dtype=np.float64,
)  # fmt: skip
RGB_FROM_YUV = np.linalg.inv(YUV_FROM_RGB)


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
    mode = image.mode
    if mode == "1":  # bilevel scans: numpy reads their pixels as booleans, so go through L
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if mode in ("L", "LA", "La"):
        return np.asarray(image.getchannel(0), dtype=np.float32) / 255.0
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        return np.clip(values / (255.0 if values.max(initial=0) > 1.0 else 1.0), 0.0, 1.0)
    from ml import color_fast

    rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    if _is_gray(rgb):
        return rgb[..., 0].astype(np.float32) / 255.0
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


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    return np.where(values > 0.04045, ((values + 0.055) / 1.055) ** 2.4, values / 12.92).astype(
        np.float32
    )


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    safe = np.maximum(values, 0.0)
    return np.where(values > 0.0031308, 1.055 * safe ** (1 / 2.4) - 0.055, values * 12.92).astype(
        np.float32
    )


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)


def _f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """CIE L* (0-100) of sRGB gray values: for a neutral colour L* depends on luminance only."""
    return (116.0 * _f(srgb_to_linear(gray)) - 16.0).astype(np.float32)


def _mix(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """values (..., 3) times matrix.T, as three multiply-adds per output channel: numpy's matmul
    with an inner dimension of 3 is several times slower on millions of pixels."""
    x, y, z = values[..., 0], values[..., 1], values[..., 2]
    return np.stack([m[0] * x + m[1] * y + m[2] * z for m in matrix], axis=-1)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1], shape (..., 3) -> Lab, float32."""
    xyz = _mix(srgb_to_linear(rgb), XYZ_FROM_RGB) / WHITE_D65
    fx, fy, fz = (_f(xyz[..., i]) for i in range(3))
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1).astype(np.float32)


def lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = np.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1) * WHITE_D65
    return _mix(xyz, RGB_FROM_XYZ).astype(np.float32, copy=False)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab -> sRGB in [0, 1], keeping L* exactly: out-of-gamut colours lose chroma, not lightness.

    Plain clipping (what most code does) changes lightness wherever a prediction leaves the sRGB
    gamut; instead each such pixel's a, b are scaled towards neutral until it fits. The scale comes
    from a table of the gamut's largest chroma per lightness and hue (`max_chroma`), so its cost
    does not depend on how many pixels are out of gamut (a black photo: all of them); the few
    pixels that the table's interpolation leaves just outside are fitted exactly by bisection.
    """
    lab = np.asarray(lab, dtype=np.float32)
    linear = lab_to_linear_rgb(lab)
    outside = np.any((linear < -_EPS_LOW) | (linear > 1 + _EPS_HIGH), axis=-1)
    if outside.all():  # e.g. a black or white photo: skip the gathering and scattering
        linear = lab_to_linear_rgb(_fit_into_gamut(lab.reshape(-1, 3))).reshape(lab.shape)
    elif outside.any():
        linear[outside] = lab_to_linear_rgb(_fit_into_gamut(lab[outside]))
    return np.clip(linear_to_srgb(np.clip(linear, 0.0, 1.0)), 0.0, 1.0)


# Tolerances in linear RGB: float32 rounding puts L* 100 grey at 1.00008, while L* 0 is exactly 0.
_EPS_LOW, _EPS_HIGH = 1e-6, 1e-4
# The chroma table: lightness 0-100 in steps of 0.5, hue in steps of 1 degree.
_L_STEPS = 200
_HUE_STEPS = 360


def _fit_into_gamut(lab: np.ndarray) -> np.ndarray:
    """Out-of-gamut colours (N, 3) scaled towards neutral to the table's largest chroma."""
    sub = lab.copy()
    chroma = np.hypot(sub[:, 1], sub[:, 2])
    limit = max_chroma(sub[:, 0], np.arctan2(sub[:, 2], sub[:, 1]))
    sub[:, 1:] *= np.minimum(1.0, limit / np.maximum(chroma, 1e-6))[:, None]
    still = ~_fits(sub)
    if still.any():  # where interpolating the table overshot the gamut's edge
        sub[still] = _bisect_into_gamut(sub[still])
    return sub


def _fits(lab: np.ndarray) -> np.ndarray:
    rgb = lab_to_linear_rgb(lab)
    return np.all((rgb >= -_EPS_LOW) & (rgb <= 1 + _EPS_HIGH), axis=-1)


def _bisect_into_gamut(lab: np.ndarray, iterations: int = 14) -> np.ndarray:
    """Scale each colour's a, b towards neutral (0 always fits) until it fits, by bisection."""
    low = np.zeros(len(lab), dtype=np.float32)
    high = np.ones(len(lab), dtype=np.float32)
    for _ in range(iterations):
        mid = (low + high) / 2
        fits = _fits(np.concatenate([lab[:, :1], lab[:, 1:] * mid[:, None]], axis=1))
        low = np.where(fits, mid, low)
        high = np.where(fits, high, mid)
    return np.concatenate([lab[:, :1], lab[:, 1:] * low[:, None]], axis=1)


@functools.cache
def _chroma_table() -> np.ndarray:
    """Largest in-gamut chroma at each (lightness, hue) of the grid."""
    lightness = np.linspace(0, 100, _L_STEPS + 1, dtype=np.float32)
    hue = np.linspace(-np.pi, np.pi, _HUE_STEPS + 1, dtype=np.float32)
    L, H = (g.ravel() for g in np.meshgrid(lightness, hue, indexing="ij"))
    low = np.zeros_like(L)
    high = np.full_like(L, 200.0)  # beyond any sRGB colour's chroma (about 134)
    for _ in range(24):
        mid = (low + high) / 2
        fits = _fits(np.stack([L, mid * np.cos(H), mid * np.sin(H)], axis=-1))
        low = np.where(fits, mid, low)
        high = np.where(fits, high, mid)
    return low.reshape(_L_STEPS + 1, _HUE_STEPS + 1).astype(np.float32)


def max_chroma(lightness: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """The gamut's largest chroma at each lightness (0-100) and hue (radians, -pi..pi), from the
    table by bilinear interpolation (a shade inside, so that interpolation rarely overshoots)."""
    table = _chroma_table().ravel()
    stride = _HUE_STEPS + 1
    li = np.clip(np.asarray(lightness, dtype=np.float32), 0, 100) * np.float32(_L_STEPS / 100)
    hi = (np.asarray(hue, dtype=np.float32) + np.float32(np.pi)) * np.float32(
        _HUE_STEPS / (2 * np.pi)
    )
    l0 = np.minimum(li.astype(np.int32), _L_STEPS - 1)
    h0 = np.clip(hi.astype(np.int32), 0, _HUE_STEPS - 1)
    lw, hw = li - l0, hi - h0
    at = l0 * stride + h0
    top = table[at] * (1 - hw) + table[at + 1] * hw
    bottom = table[at + stride] * (1 - hw) + table[at + stride + 1] * hw
    return np.maximum((top * (1 - lw) + bottom * lw) * np.float32(0.995) - np.float32(0.05), 0)


# Full-resolution work is done a stripe of rows at a time, so that a 40-megapixel photo needs
# tens of megabytes of temporaries rather than gigabytes.
STRIPE_PIXELS = 1 << 18


def _stripes(height: int, width: int) -> list[slice]:
    rows = max(1, STRIPE_PIXELS // max(width, 1))
    return [slice(top, min(top + rows, height)) for top in range(0, height, rows)]


def _axis(dst: int, src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a bilinear resize along one axis (align_corners=False)."""
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5
    pos = np.clip(pos, 0, None)
    i0 = np.minimum(np.floor(pos).astype(np.int64), src - 1)
    i1 = np.minimum(i0 + 1, src - 1)
    return i0, i1, (pos - i0).astype(np.float32)


def _resize_rows(values: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    (y0, y1, wy), (x0, x1, wx) = rows, cols
    picked = values[y0] * (1 - wy)[:, None, None] + values[y1] * wy[:, None, None]
    return picked[:, x0] * (1 - wx)[None, :, None] + picked[:, x1] * wx[None, :, None]


def resize_bilinear(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of (h, w, C) as torch's interpolate(align_corners=False) does it."""
    src_h, src_w = values.shape[:2]
    if (src_h, src_w) == (height, width):
        return values.astype(np.float32, copy=False)
    values = values.astype(np.float32, copy=False)
    return _resize_rows(values, _axis(height, src_h), _axis(width, src_w))


def yuv_to_rgb(luma: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Y (H, W) and U, V (H, W, 2) -> RGB in [0, 1], keeping Y exactly: where a colour falls
    outside [0, 1], U and V shrink towards neutral (Y itself always fits) instead of clipping."""
    luma = luma.astype(np.float64)[..., None]
    chroma_rgb = uv.astype(np.float64) @ RGB_FROM_YUV[:, 1:].T  # RGB = Y + this
    # Largest s in [0, 1] with 0 <= Y + s * c <= 1 for each channel c.
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(
            chroma_rgb > 0,
            (1 - luma) / chroma_rgb,
            np.where(chroma_rgb < 0, -luma / chroma_rgb, np.inf),
        )
    scale = np.clip(limit.min(axis=-1, keepdims=True), 0.0, 1.0)
    return np.clip(luma + scale * chroma_rgb, 0.0, 1.0)


def compose(gray: np.ndarray, chroma: Chroma) -> Image.Image:
    """Join predicted chroma (any size) to the full-resolution lightness of `gray`, a stripe of
    rows at a time (memory stays bounded whatever the photo's size).

    Per pixel, the chroma is upsampled by `resize_bilinear`'s arithmetic, and then joined by
    `gray_to_lightness` and `lab_to_rgb` (space "lab") or by `yuv_to_rgb` (space "yuv"), rounded
    to 8 bits; ml.color_fast computes exactly that in stripes, on every core."""
    from ml import color_fast

    ab = np.asarray(chroma.ab, dtype=np.float32)
    gray = np.asarray(gray, dtype=np.float32)
    return Image.fromarray(color_fast.compose_rgb(gray, ab, chroma.space))


# zlib level of the PNG a result is stored as (downloads), written on every core by ml.png.
# Measured on a 12-megapixel result (python -m ml.pipeline_benchmark --png, 2 busy cores):
# Pillow's default (level 6, one core) 12.4 MB; ml.png at level 2 about 14.9 MB, as large as
# Pillow's level 1, in a fifth to a tenth of level 6's time. See the report in ml/png.py.
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
    return Image.fromarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8))
