"""Which models can colorize a film, and which one to suggest."""

from __future__ import annotations

from collections.abc import Iterable

from ml.registry import ModelSpec, all_specs

RECOMMENDED = "deoldify-video"  # trained for colour that does not flicker between frames


def video_models() -> list[ModelSpec]:
    """Every model fit for film (ModelSpec.video): each needs only the frames, or one reference
    photo for the whole film; not the colour scribbles, whose strokes belong to one picture."""
    return [spec for spec in all_specs() if spec.video]


def recommended_video_model(installed: Iterable[str] | None = None) -> str | None:
    """The model to suggest for a film among the installed ones (model keys; None: ask
    ml.weights): DeOldify Video when installed, else the first fit model, in registry order,
    that needs nothing but the film; None when there is none."""
    from ml.weights import is_installed

    fit = [spec for spec in video_models() if not spec.missing_required({})]
    if installed is None:
        keys = {spec.key for spec in fit if is_installed(spec.weights)}
    else:
        keys = set(installed)
    if RECOMMENDED in keys and any(spec.key == RECOMMENDED for spec in fit):
        return RECOMMENDED
    return next((spec.key for spec in fit if spec.key in keys), None)
