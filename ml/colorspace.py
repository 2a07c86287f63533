"""The colour formulas every model's result goes through, as plain numpy: sRGB <-> linear, CIE Lab
(D65 white, as scikit-image), fitting a colour into the sRGB gamut without changing its
lightness, BT.601 YUV, bilinear upsampling.

They are the reference: ml.color re-exports them, and ml.color_fast computes the same values,
bit for bit, stripe by stripe on a full-resolution photo.
"""

from __future__ import annotations

import functools

import numpy as np

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

# OpenCV's RGB -> YUV (BT.601 on gamma-encoded values, U and V centred on 0 here), which
# DeOldify's post-processing uses: luma Y from the photo, chroma U, V from the model.
YUV_FROM_RGB = np.array(
    [[0.299, 0.587, 0.114], [-0.299 * 0.492, -0.587 * 0.492, 0.886 * 0.492],
     [0.701 * 0.877, -0.587 * 0.877, -0.114 * 0.877]],
    dtype=np.float64,
)  # fmt: skip
RGB_FROM_YUV = np.linalg.inv(YUV_FROM_RGB)


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
