"""The registry: every colorization model Coloria knows (a ModelSpec, by key) and the families
they belong to (a Family: what the models are, how they were trained, where the family's code is).

Specs and families are pure data, registered by the catalogue (one module per family in
ml/catalogue/, loaded once when `ml` is imported). The code behind them is named by dotted paths
and imported only when first used, so listing models never imports PyTorch or TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ml.errors import InvalidParameters, UnknownModel


@dataclass(frozen=True)
class ParamSpec:
    """One user-settable parameter of a model, with its bounds."""

    name: str
    kind: str  # "int", "float", "bool", "choice", "hints", "imagenet_class" or "job"
    default: Any
    label: str
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    # Set by Coloria when one request becomes several runs (see ModelSpec.runs), or when a result
    # is refined (the job it refines), never by visitors.
    internal: bool = False
    # A model that cannot run without it (scribbles need strokes); "all models" leaves it out.
    required: bool = False
    # For the one "strength" setting of a model (a number between min and max): what the lowest
    # and the highest value do, in words true for that model's weights ("muted", "vivid"). The
    # site shows such a parameter as a slider with these words at its ends.
    ends: tuple[str, str] = ()
    # Which end ("min" or "max") gives the more colourful result with the weights this parameter
    # is declared for, where that is its effect; tests measure it on the shipped weights.
    colourful_end: str = ""

    def clean(self, value: Any) -> Any:
        """Coerce a value (often a string from a form) to this parameter's type, or raise."""
        try:
            if self.kind == "int":
                cleaned: Any = int(str(value).strip())
            elif self.kind == "float":
                cleaned = float(str(value).strip())
                if not math.isfinite(cleaned):  # "nan" and "inf" parse, but mean nothing here
                    raise ValueError(f"{value!r} is not a finite number")
            elif self.kind == "bool":
                cleaned = _to_bool(value)
            elif self.kind == "choice":
                cleaned = str(value)
                if cleaned not in self.choices:
                    raise InvalidParameters(
                        f"{self.label} must be one of: {', '.join(self.choices)}."
                    )
            elif self.kind == "hints":
                try:
                    cleaned = clean_hints(value)
                except ValueError as exc:  # say what is wrong with them
                    raise InvalidParameters(f"{self.label}: {exc}.") from None
            elif self.kind == "imagenet_class":
                cleaned = clean_imagenet_class(value)
            elif self.kind == "job":
                import uuid

                cleaned = str(uuid.UUID(str(value)))
            else:  # pragma: no cover - a programming error in a spec
                raise AssertionError(f"unknown parameter kind {self.kind}")
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise InvalidParameters(
                f"{self.label}: {_shown(value)} is not {_KIND_NAMES.get(self.kind, 'valid')}."
            ) from exc
        too_low = self.min is not None and cleaned < self.min
        too_high = self.max is not None and cleaned > self.max
        if self.kind in ("int", "float") and (too_low or too_high):
            raise InvalidParameters(
                f"{self.label} must be between {_fmt(self.min)} and {_fmt(self.max)}."
            )
        return cleaned


# How an error message names what a parameter expects ("… is not a number").
_KIND_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "yes or no",
    "hints": "a list of colour hints (x, y, colour)",
    "imagenet_class": "an ImageNet class",
    "job": "a job id",
}


@dataclass(frozen=True)
class ModelSpec:
    """What a model is, where its code lives and which weights file it needs."""

    key: str
    family: str
    name: str
    hint: str  # one line for the model picker
    description: str
    predictor: str  # "package.module:ClassName", imported lazily
    weights: str  # key in ml.weights.KNOWN_WEIGHTS
    official: bool = False
    params: tuple[ParamSpec, ...] = field(default_factory=tuple)
    options: dict[str, Any] = field(
        default_factory=dict
    )  # fixed keyword arguments for the predictor
    # Colours from a reference photo: the model needs one besides the photo (ml.colorize's
    # `reference`), and no other model takes one.
    needs_reference: bool = False
    # For visitors: a short plain name ("DeOldify Stable") and the model's character in a few
    # words ("natural, good with faces"), as the site's model picker shows them.
    short_name: str = ""
    character: str = ""
    # Too slow or too big to be practical without a GPU (seconds per photo on a CPU, or weights
    # of several hundred megabytes): a site that splits its queues sends such a model's jobs to
    # the workers of its GPU machines.
    needs_gpu: bool = False
    # Fit to colorize a film frame by frame (ml.video): true for models that need only the
    # picture, or one reference photo for the whole film; false where the request belongs to one
    # picture (colour strokes painted on it).
    video: bool = True

    @property
    def queue(self) -> str:
        """The kind of worker this model's jobs go to: "gpu" or "cpu"."""
        return "gpu" if self.needs_gpu else "cpu"

    @property
    def plain_name(self) -> str:
        return self.short_name or self.name

    @property
    def strength(self) -> ParamSpec | None:
        """The parameter that sets how strong or detailed the colour is, if the model has one."""
        return next((param for param in self.params if param.ends), None)

    @property
    def param_names(self) -> set[str]:
        return {param.name for param in self.params}

    def clean_params(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Validate user parameters: unknown names are refused, missing ones get defaults."""
        raw = dict(raw or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise InvalidParameters(
                f"{self.name} does not take the parameter(s): {', '.join(unknown)}."
            )
        cleaned = {}
        for name, spec in known.items():
            value = raw.get(name)
            cleaned[name] = spec.default if value in (None, "") else spec.clean(value)
            if spec.required and not cleaned[name]:
                raise InvalidParameters(f"{self.name} needs {spec.label.lower()}: {spec.help}")
        return cleaned

    def missing_required(self, raw: dict[str, Any], *, reference: bool = False) -> bool:
        """Whether a request leaves out something this model cannot run without: a required
        parameter, or a reference photo."""
        if self.needs_reference and not reference:
            return True
        return any(param.required and not raw.get(param.name) for param in self.params)

    def runs(self, cleaned: dict[str, Any]) -> list[dict[str, Any]]:
        """The runs one request asks for: one, or with a `candidates` count (BigColor) that many,
        numbered by their `candidate` parameter (1, 2, ...), to be shown side by side."""
        count = int(cleaned.get("candidates", 1))
        if count <= 1:
            return [cleaned]
        return [{**cleaned, "candidate": number} for number in range(1, count + 1)]


@dataclass(frozen=True)
class Family:
    """A family of models: the prose of its model page, and where its code lives.

    `trainer`, `random_weights` and the specs' `predictor` are "module:name" paths, imported
    when used: `python -m ml.train <train_name>` runs the trainer class; `random_weights(spec,
    directory)` writes a randomly initialised file in the official layout under the spec's
    weights file name (benchmarks and tests measure and exercise real networks without the
    official files)."""

    key: str
    title: str
    summary: str
    architecture: str = ""
    training: str = ""
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()
    study_delta_e00: float | None = None  # the COLORIA study's mean ΔE00, when it measured one
    order: int = 100  # where the family's models come in lists (lower first)
    trainer: str = ""
    train_name: str = ""  # defaults to the key
    random_weights: str = ""

    @property
    def command(self) -> str:
        """The name `python -m ml.train` knows this family's pipeline by."""
        return self.train_name or self.key


_REGISTRY: dict[str, ModelSpec] = {}
_FAMILIES: dict[str, Family] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.key in _REGISTRY:
        raise ValueError(f"model key {spec.key!r} registered twice")
    _REGISTRY[spec.key] = spec
    return spec


def register_family(family: Family) -> Family:
    if family.key in _FAMILIES:
        raise ValueError(f"family {family.key!r} registered twice")
    _FAMILIES[family.key] = family
    return family


def get_spec(key: str) -> ModelSpec:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownModel(
            f"Unknown model {key!r}. Known models: {', '.join(_REGISTRY)}."
        ) from None


def _order(spec: ModelSpec) -> int:
    family = _FAMILIES.get(spec.family)
    return family.order if family else 100


def all_specs() -> list[ModelSpec]:
    """Every model, family by family (in the families' order), each family's in the order its
    catalogue registers them."""
    return sorted(_REGISTRY.values(), key=_order)


def get_family(key: str) -> Family | None:
    return _FAMILIES.get(key)


def all_families() -> list[Family]:
    return sorted(_FAMILIES.values(), key=lambda family: family.order)


def load_code(path: str):
    """The object a "module:name" path names (a predictor class, a trainer, a function)."""
    import importlib

    module_name, _, name = path.partition(":")
    return getattr(importlib.import_module(module_name), name)


# Hints are a few dozen clicks or strokes in practice; these bounds keep one request from storing
# megabytes of parameters in every job it creates (and from nesting JSON deep enough to exhaust
# the stack).
MAX_HINTS = 500
MAX_HINTS_TEXT = 64 * 1024  # bytes of JSON
MAX_STROKE_POINTS = 2000
MAX_STROKE_WIDTH = 500.0  # pixels of the photo
DEFAULT_STROKE_WIDTH = 8.0

Point = tuple[float, float, tuple[int, int, int]]


@dataclass(frozen=True)
class Stroke:
    """A painted line: its points (x, y) in the photo's pixels, its colour and width. Stored in
    a job's parameters as {"points": [[x, y], ...], "color": [r, g, b], "width": w}."""

    points: tuple[tuple[float, float], ...]
    color: tuple[int, int, int]
    width: float = DEFAULT_STROKE_WIDTH


def clean_hints(value: Any) -> list[Point | Stroke]:
    """Hints are colour points [(x, y, (r, g, b)), ...] and strokes in the photo's pixels. JSON
    is accepted too; a point may be {"x":, "y":, "color":}, a stroke {"points": [[x, y], ...],
    "color":, "width":} (width optional); colours are [r, g, b] or "#rrggbb". Raises ValueError
    saying what is wrong (the caller names the parameter)."""
    if isinstance(value, str):
        import json

        if len(value) > MAX_HINTS_TEXT:
            raise ValueError(f"at most {MAX_HINTS_TEXT // 1024} KB of hints can be sent")
        try:
            value = json.loads(value) if value.strip() else []
        except RecursionError:
            raise ValueError("the hints are nested too deeply") from None
        except json.JSONDecodeError:
            raise ValueError("the hints are not valid JSON ([[x, y, colour], ...])") from None
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError("hints must be a list")
    if len(value) > MAX_HINTS:
        raise ValueError(f"at most {MAX_HINTS} hints can be given")
    return [_clean_stroke(item) if _is_stroke(item) else _clean_point(item) for item in value]


def _is_stroke(item: Any) -> bool:
    return isinstance(item, Stroke) or (isinstance(item, dict) and "points" in item)


def _clean_point(item: Any) -> Point:
    if isinstance(item, dict):
        x, y, rgb = item["x"], item["y"], item["color"]
    elif isinstance(item, list | tuple) and len(item) == 3:
        x, y, rgb = item
    else:
        raise ValueError("each hint is [x, y, colour] or a stroke {points, color, width}")
    _check_numbers(x, y)
    return (float(x), float(y), _clean_colour(rgb))


def _clean_stroke(item: Any) -> Stroke:
    if isinstance(item, Stroke):
        item = {"points": item.points, "color": item.color, "width": item.width}
    points, width = item["points"], item.get("width", DEFAULT_STROKE_WIDTH)
    if not isinstance(points, list | tuple) or not points:
        raise ValueError("a stroke's points are a non-empty list of [x, y]")
    if len(points) > MAX_STROKE_POINTS:
        raise ValueError(f"a stroke has at most {MAX_STROKE_POINTS} points")
    if not all(isinstance(point, list | tuple) and len(point) == 2 for point in points):
        raise ValueError("each point of a stroke is [x, y]")
    _check_numbers(width, *(c for point in points for c in point))
    if not 1 <= width <= MAX_STROKE_WIDTH:
        raise ValueError(f"a stroke's width is 1 to {MAX_STROKE_WIDTH:.0f} pixels")
    return Stroke(
        points=tuple((float(x), float(y)) for x, y in points),
        color=_clean_colour(item["color"]),
        width=float(width),
    )


def _clean_colour(rgb: Any) -> tuple[int, int, int]:
    if isinstance(rgb, str):
        rgb = _hex_to_rgb(rgb)
    if not isinstance(rgb, list | tuple) or len(rgb) != 3:
        raise ValueError("a hint's colour is [r, g, b] or '#rrggbb'")
    _check_numbers(*rgb)
    r, g, b = (int(c) for c in rgb)
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise ValueError("colour components must be 0-255")
    return (r, g, b)


def _check_numbers(*values: Any) -> None:
    if not all(_is_number(c) and math.isfinite(c) for c in values):
        raise ValueError("hint positions, widths and colours must be finite numbers")


def params_as_json(params: dict[str, Any]) -> dict[str, Any]:
    """Cleaned parameters as JSON stores them (a job's params): tuples as lists, strokes as
    objects; clean_params reads them back."""
    return {name: _as_json(value) for name, value in params.items()}


def _as_json(value: Any) -> Any:
    if isinstance(value, Stroke):
        return {"points": [list(p) for p in value.points], "color": list(value.color),
                "width": value.width}  # fmt: skip
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    return value


def hint_points(hints: list[Any]) -> list[tuple[float, float]]:
    """Every position the hints touch: each point, and each stroke's points (for bounds checks)."""
    return [(x, y) for x, y, _ in as_colour_points(hints)]


def as_colour_points(hints: list[Any]) -> list[Point]:
    """Hints as colour points: strokes become their points (for models that take points)."""
    out: list[Point] = []
    for hint in clean_hints(hints):
        if isinstance(hint, Stroke):
            out.extend((x, y, hint.color) for x, y in hint.points)
        else:
            out.append(hint)
    return out


def _shown(value: Any, limit: int = 60) -> str:
    """A value as an error message quotes it: never the whole of a huge one."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


AUTOMATIC = ("", "auto", "automatic", "-1")


def clean_imagenet_class(value: Any) -> int:
    """-1 (let Coloria choose) or a class index 0-999, from an index, '979: valley' or a name."""
    from ml.imagenet import parse_class

    if value is None or (isinstance(value, int | str) and str(value).strip().lower() in AUTOMATIC):
        return -1
    try:
        return parse_class(value)
    except ValueError:
        raise InvalidParameters(
            f"ImageNet class: {value!r} is not one of the 1000 classes; give its number (0-999), "
            "its name (e.g. 'valley') or 'auto'."
        ) from None


def _hex_to_rgb(text: str) -> tuple[int, int, int]:
    digits = text.lstrip("#")
    try:
        if len(digits) != 6:
            raise ValueError
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    except ValueError:
        raise ValueError(f"bad colour {_shown(text, 20)} (use #rrggbb)") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _fmt(number: float | None) -> str:
    if number is None:
        return "any"
    return str(int(number)) if float(number).is_integer() else str(number)
