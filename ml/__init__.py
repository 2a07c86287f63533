"""Coloria's machine-learning package: colorize black-and-white photos.

    import ml
    result = ml.colorize("grandma.jpg", model="zhang-eccv16")   # -> PIL.Image
    ml.list_models()                                             # -> [ModelSpec, ...]

Pure Python with PyTorch/TensorFlow underneath; it never imports Django. Heavy frameworks are
imported only when a model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml import catalogue
from ml.color import ImageSource, alpha_of, base_chroma, compose, open_image, to_gray
from ml.config import configure
from ml.errors import ColorizeError, InvalidParameters
from ml.registry import ModelSpec, all_specs, get_spec

catalogue.load()  # every family's weights, models and record, registered once

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from ml import color_fast

__all__ = ["ColorizeError", "ModelSpec", "colorize", "configure", "get_spec", "list_models"]


def list_models() -> list[ModelSpec]:
    return all_specs()


def colorize(
    image: ImageSource,
    model: str,
    *,
    device: str | None = None,
    base: ImageSource | None = None,
    reference: ImageSource | None = None,
    **params: Any,
) -> Image.Image:
    """Colorize a photo with a registered model; returns an RGB image of the input's size
    (RGBA with the photo's own transparency when it has some).

    `base` is an earlier colorization of the same photo for a model that refines one (the
    scribbles): its colours are the starting point. `reference` is the colour photo whose colours
    a model that borrows them (`reference`) uses.

    What the model chose (BigColor's class) and which fast path ran are in `info["coloria"]`.

    Raises a `ColorizeError` subclass with a readable message for unknown models, invalid
    parameters, missing weights, unreadable images and running out of memory.
    """
    from ml import inference, runtime

    spec = get_spec(model)
    cleaned = spec.clean_params(params)
    source = open_image(image)
    gray = to_gray(source)
    # Held until it has predicted: the model cache never unloads a model in use (ml.runtime).
    with runtime.in_use(spec, device) as predictor:
        if base is not None:
            if "refines" not in spec.param_names:
                raise InvalidParameters(f"{spec.name} cannot refine a result.")
            cleaned["base"] = base_chroma(base)
        if (reference is not None) != spec.needs_reference:
            raise InvalidParameters(
                f"{spec.name} needs a reference photo."
                if spec.needs_reference
                else f"{spec.name} does not take a reference photo."
            )
        if reference is not None:
            cleaned["reference"] = open_image(reference)
        lightness = lightness_beside(predictor, gray)
        try:
            chroma = runtime.predict(predictor, gray, cleaned, name=spec.name)
        finally:  # stopped whether the model answered or failed
            known = lightness.finish() if lightness else None
    colorized = compose(gray, chroma, known)
    alpha = alpha_of(source)
    if alpha is not None:  # a cut-out stays a cut-out
        colorized.putalpha(alpha)
    colorized.info["coloria"] = {**chroma.details, **inference.details(predictor)}
    return colorized


def lightness_beside(predictor: Any, gray: np.ndarray) -> color_fast.Lightness | None:
    """The half of `compose` that needs no colour (the photo's full-resolution L*), started on
    the core a model that predicts on one core (`predictor.single_threaded`: the guided ones)
    leaves idle, until `finish`ed; None for the others, whose threads would wait on it."""
    from ml import color_fast

    if not getattr(predictor, "single_threaded", False) or color_fast.threads() < 2:
        return None
    return color_fast.lightness_beside(gray)
