"""What people see of the models: the picker's choices, names and labels of jobs, a job's
parameters in words, and the model family pages (the catalogue's records with figures)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import Count, Q

import ml
from ml import imagenet
from ml.cards import Card
from ml.registry import Family, ModelSpec, ParamSpec, get_family
from ml.weights import install_command

from .. import samples
from ..evaluations import ModelFigures, evaluation_figures
from ..models import Batch, Job, Kind
from . import catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    installed: bool

    @property
    def unavailable_reason(self) -> str:
        return "" if self.installed else "its weights are not installed on this server"

    @property
    def install_command(self) -> str:
        """For staff only (the admin dashboard): visitors are never shown shell commands."""
        return install_command(self.spec.weights)

    @property
    def needs_strokes(self) -> bool:
        """Painted on a result (the scribbles), not chosen on the upload form."""
        return any(param.required for param in self.spec.params)

    @property
    def experimental(self) -> Card | None:
        """The card of shipped weights that do not clear the quality bar (see experimental)."""
        return experimental(self.spec.key)


def experimental(model_key: str) -> Card | None:
    """The card of a model whose shipped weights do worse than the quality bar (closer to the
    truth than leaving the photo grey, with half its colourfulness), else None. The site may
    preselect such a model when nothing better is installed, but always says so."""
    card = catalogue.current().card_for(model_key)
    return card if card is not None and not card.clears_the_bar else None


def spec_or_none(model_key: str) -> ModelSpec | None:
    try:
        return ml.get_spec(model_key)
    except ml.ColorizeError:
        return None


def model_name(model_key: str) -> str:
    if model_key == Batch.ALL_MODELS:
        return "All models"
    spec = spec_or_none(model_key)
    return spec.name if spec else model_key


def job_label(job: Job) -> str:
    """The model's name, and which candidate the job is when one request made several."""
    params = job.params or {}
    count = params.get("candidates", 1)
    if isinstance(count, int) and count > 1:
        return f"{model_name(job.model_key)} · candidate {params.get('candidate', 1)} of {count}"
    return model_name(job.model_key)


def with_model_names(jobs: list[Job]) -> list[Job]:
    """Give each job a `model_name` for templates (the registry's name, or the key, and the
    candidate number when there are several)."""
    for job in jobs:
        job.model_name = job_label(job)
    return jobs


def is_comparison(batch: Batch, *, job_count: int | None = None) -> bool:
    """Results to compare side by side: every model on one photo, or several candidates of one
    model (BigColor) on one photo. `job_count`: the batch's jobs, when the caller has them."""
    if batch.model_key == Batch.ALL_MODELS:
        return True
    if job_count is not None and job_count <= 1:  # one result: nothing to compare, no query
        return False
    uploads = batch.uploads.aggregate(
        photos=Count("pk"), films=Count("pk", filter=Q(kind=Kind.VIDEO))
    )
    if uploads["films"]:  # films are compared on their own pages
        return False
    if uploads["photos"] != 1:
        return False
    return (batch.jobs.count() if job_count is None else job_count) > 1


def model_choices() -> list[ModelChoice]:
    models = catalogue.current()
    return [ModelChoice(spec, models.is_installed(spec.key)) for spec in models.models]


def upload_choices() -> list[ModelChoice]:
    """The models the upload form offers: those that need only a photo (the colour scribbles
    are painted on a result, from its page), installed ones first."""
    choices = [choice for choice in model_choices() if not choice.needs_strokes]
    return sorted(choices, key=lambda choice: not choice.installed)  # stable: registry order


def imagenet_class_labels(choices: list[ModelChoice]) -> list[str]:
    """'979: valley' for each ImageNet class, when an installed model takes a class (for the
    form's searchable list); empty otherwise, to keep the page small."""
    takes_class = any(
        choice.installed and any(p.kind == "imagenet_class" for p in choice.spec.params)
        for choice in choices
    )
    if not takes_class:
        return []
    return [imagenet.class_label(index) for index in range(len(imagenet.class_names()))]


@dataclass(frozen=True)
class StrengthChoices:
    """A result's strength setting, and the values one click away from it towards each end."""

    param: ParamSpec
    value: float
    lower: float | None  # None at the low end already
    higher: float | None


def strength_choices(job: Job) -> StrengthChoices | None:
    spec = spec_or_none(job.model_key)
    param = spec.strength if spec else None
    if param is None or param.min is None or param.max is None:
        return None
    value = (job.params or {}).get(param.name, param.default)
    step = (param.max - param.min) / 3

    def rounded(number: float) -> float:
        return round(number) if param.kind == "int" else round(number, 2)

    lower = rounded(max(param.min, value - step)) if value > param.min else None
    higher = rounded(min(param.max, value + step)) if value < param.max else None
    return StrengthChoices(param, value, lower, higher)


def describe_params(job: Job) -> list[tuple[str, str]]:
    """A job's parameters as (label, value) for people: hints are counted, not listed."""
    spec = spec_or_none(job.model_key)
    labels = {p.name: p for p in spec.params} if spec else {}
    described = []
    for name, value in (job.params or {}).items():
        param = labels.get(name)
        label = param.label if param else name
        if param is not None and param.kind == "job" and value:
            described.append(("Starting from", f"the result of {_refined_model(value)}"))
            continue
        if param is not None and param.internal:
            continue  # shown in the job's label instead (candidate 2 of 3)
        if param is not None and param.kind == "hints":
            text = _count_hints(value or [])
        elif param is not None and param.kind == "imagenet_class":
            text = "automatic" if value == -1 else imagenet.class_label(int(value))
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = str(value)
        described.append((label, text))
    used = getattr(getattr(job, "result", None), "details", None) or {}
    if "imagenet_class" in used:
        described.append(("Class used", imagenet.class_label(int(used["imagenet_class"]))))
    if "working_size" in used:
        described.append(("Colour solved at", f"{used['working_size']} pixels"))
    return described


def _count_hints(hints: list) -> str:
    strokes = sum(1 for hint in hints if isinstance(hint, dict))
    points = len(hints) - strokes
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
             ((strokes, "stroke"), (points, "colour point")) if n]  # fmt: skip
    return ", ".join(parts) or "none"


def _refined_model(job_id: str) -> str:
    base = Job.objects.filter(pk=job_id).only("model_key").first()
    return model_name(base.model_key) if base else "a deleted job"


# The study's published mean ΔE00 per model (lower is closer to the original colours).
STUDY_RESULTS = [
    ("DeOldify Artistic", 7.46),
    ("DeOldify Stable", 7.87),
    ("CNN (the study's own)", 9.42),
    ("BigColor", 12.49),
]


@dataclass(frozen=True)
class FamilyModel:
    choice: ModelChoice
    figures: ModelFigures | None
    card: Card | None = None  # for own-trained weights that ship with Coloria


@dataclass(frozen=True)
class FamilyPage:
    key: str
    title: str
    summary: str
    info: Family | None  # the family's record in the catalogue (architecture, training, ...)
    models: list[FamilyModel]


def model_families(*, with_figures: bool = False) -> list[FamilyPage]:
    """One entry per model family in the registry, in registry order."""
    figures = evaluation_figures() if with_figures else {}
    cards = catalogue.current()
    grouped: dict[str, list[FamilyModel]] = {}
    for choice in model_choices():
        grouped.setdefault(choice.spec.family, []).append(
            FamilyModel(
                choice,
                figures.get(choice.spec.key),
                cards.card_for(choice.spec.key) if with_figures else None,
            )
        )
    families = []
    for key, models in grouped.items():
        record = get_family(key)
        families.append(
            FamilyPage(
                key=key,
                title=record.title if record else key.replace("-", " ").title(),
                summary=record.summary if record else models[0].choice.spec.hint,
                info=record,
                models=models,
            )
        )
    return families


def model_family(key: str) -> FamilyPage | None:
    return next((f for f in model_families(with_figures=True) if f.key == key), None)


@dataclass(frozen=True)
class HomeExample:
    sample: samples.Sample
    static_path: str  # the colorized example under static/
    model: ModelSpec

    @property
    def before_alt(self) -> str:
        return f"{self.sample.alt}, in black and white"

    @property
    def after_alt(self) -> str:
        return f"{self.sample.alt}, colorized by {self.model.plain_name}"


def home_example() -> HomeExample | None:
    """The before/after example at the top of the home page (see colorize.samples)."""
    spec = spec_or_none(samples.EXAMPLE_MODEL)
    found = samples.sample(samples.EXAMPLE_SAMPLE)
    if spec is None or found is None:
        return None
    return HomeExample(found, samples.EXAMPLE_STATIC, spec)
