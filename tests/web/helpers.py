"""Checks shared by the web tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage.color import rgb2lab


def assert_is_colorization_of(result_png: bytes, original: Image.Image) -> None:
    """The result has the original's size and lightness (within 1 L* unit) and real colour."""
    result = Image.open(io.BytesIO(result_png))
    assert result.size == original.size
    result_lab = rgb2lab(np.asarray(result.convert("RGB")))
    original_lab = rgb2lab(np.asarray(original.convert("RGB")))
    assert np.abs(result_lab[..., 0] - original_lab[..., 0]).max() <= 1.0
    assert np.abs(result_lab[..., 1:]).max() > 0.5, "the model added no colour"


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is truthy.

    Playwright's wait_for_function evaluates its predicate with eval() inside the page, which a
    strict Content-Security-Policy (no 'unsafe-eval', as Coloria sends) forbids; page.evaluate
    goes through the DevTools protocol and is not subject to the page's policy.
    """
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)
