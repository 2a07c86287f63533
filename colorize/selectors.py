"""Read-side queries: who may see what, what the model picker and the model pages show, and the
files a viewer downloads (read-only renderings of stored images)."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import ml
from ml import imagenet
from ml.cards import Card, card_for
from ml.registry import ModelSpec
from ml.weights import install_command, is_installed

from .models import Batch, Job, Upload

log = logging.getLogger(__name__)

ALL_MODELS = "all"  # the same value as services.ALL_MODELS

# --- Who may see what -------------------------------------------------------------------------


def _owned_by(user: Any, session_key: str) -> Q:
    """A signed-in user owns what they sent; an anonymous visitor what their session sent."""
    if getattr(user, "is_authenticated", False):
        return Q(owner=user)
    if not session_key:
        return Q(pk__in=[])
    return Q(owner__isnull=True, session_key=session_key)


def _visible_to(user: Any, session_key: str) -> Q:
    """Staff see everything; owners see their own things (hidden ones too, with the reason)."""
    if getattr(user, "is_authenticated", False) and user.is_staff:
        return Q(pk__isnull=False)  # everything (an empty Q() would vanish when OR-ed)
    return _owned_by(user, session_key)


PUBLIC_JOBS = Q(published_at__isnull=False, hidden_at__isnull=True, status=Job.Status.SUCCEEDED)


def job_for_viewer(*, job_id: Any, user: Any, session_key: str) -> Job | None:
    """The job if this viewer may see it, else None (callers answer 404: no existence leak).

    Published, non-hidden jobs are visible to everyone, read-only."""
    return (
        Job.objects.filter(_visible_to(user, session_key) | PUBLIC_JOBS, pk=job_id)
        .select_related("upload", "result", "batch")
        .first()
    )


def job_for_owner(*, job_id: Any, user: Any, session_key: str) -> Job | None:
    """The job if this viewer owns it (may retry, re-run, publish, delete it), else None."""
    return (
        Job.objects.filter(_owned_by(user, session_key), pk=job_id)
        .select_related("upload", "result", "batch")
        .first()
    )


def is_owner(thing: Job | Batch, user: Any, session_key: str) -> bool:
    """Whether this viewer owns a job or batch (the same rule as `job_for_owner`)."""
    if getattr(user, "is_authenticated", False):
        return thing.owner_id == user.pk
    return thing.owner_id is None and bool(session_key) and thing.session_key == session_key


def batch_for_viewer(*, batch_id: Any, user: Any, session_key: str) -> Batch | None:
    """Batches are private: their owner (and staff) only."""
    return Batch.objects.filter(_visible_to(user, session_key), pk=batch_id).first()


def batch_jobs(batch: Batch) -> QuerySet[Job]:
    return batch.jobs.select_related("upload", "result").order_by(
        "upload__created_at", "upload_id", "queued_at", "model_key"
    )


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int
    running: int

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def is_finished(self) -> bool:
        return self.finished == self.total


def progress_of(jobs: list[Job]) -> Progress:
    statuses = [job.status for job in jobs]
    return Progress(
        total=len(statuses),
        done=statuses.count(Job.Status.SUCCEEDED),
        failed=statuses.count(Job.Status.FAILED),
        running=statuses.count(Job.Status.RUNNING),
    )


def batch_expires_at(batch: Batch):
    """When an anonymous batch's photos are deleted (None: not scheduled, or owned)."""
    return (
        Upload.objects.filter(batch=batch, expires_at__isnull=False)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


def history_page(*, user: Any, model_key: str = "", page: Any = 1, per_page: int = 12) -> Page:
    """A signed-in user's jobs, newest first, optionally of one model."""
    jobs = Job.objects.filter(owner=user).select_related("upload", "result")
    if model_key:
        jobs = jobs.filter(model_key=model_key)
    found = Paginator(jobs.order_by("-queued_at"), per_page).get_page(page)
    found.object_list = with_model_names(list(found.object_list))
    return found


def history_models(*, user: Any) -> list[tuple[str, str]]:
    """(key, name) of the models a user's jobs used, for the history filter."""
    keys = Job.objects.filter(owner=user).values_list("model_key", flat=True).distinct()
    return sorted(((key, model_name(key)) for key in set(keys)), key=lambda item: item[1])


def gallery_page(*, page: Any = 1, per_page: int = 12) -> Page:
    jobs = (
        Job.objects.filter(PUBLIC_JOBS).select_related("upload", "result").order_by("-published_at")
    )
    found = Paginator(jobs, per_page).get_page(page)
    found.object_list = with_model_names(list(found.object_list))
    return found


# --- Models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    installed: bool

    @property
    def unavailable_reason(self) -> str:
        if self.installed:
            return ""
        return f"weights not installed: {self.install_command}"

    @property
    def install_command(self) -> str:
        return install_command(self.spec.weights)


def spec_or_none(model_key: str) -> ModelSpec | None:
    try:
        return ml.get_spec(model_key)
    except ml.ColorizeError:
        return None


def model_name(model_key: str) -> str:
    if model_key == ALL_MODELS:
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


def is_comparison(batch: Batch) -> bool:
    """Results to compare side by side: every model on one photo, or several candidates of one
    model (BigColor) on one photo."""
    if batch.model_key == ALL_MODELS:
        return True
    return batch.uploads.count() == 1 and batch.jobs.count() > 1


def model_choices() -> list[ModelChoice]:
    return [ModelChoice(spec, is_installed(spec.weights)) for spec in ml.list_models()]


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


def describe_params(job: Job) -> list[tuple[str, str]]:
    """A job's parameters as (label, value) for people: hints are counted, not listed."""
    spec = spec_or_none(job.model_key)
    labels = {p.name: p for p in spec.params} if spec else {}
    described = []
    for name, value in (job.params or {}).items():
        param = labels.get(name)
        label = param.label if param else name
        if param is not None and param.internal:
            continue  # shown in the job's label instead (candidate 2 of 3)
        if param is not None and param.kind == "hints":
            count = len(value or [])
            text = "none" if not count else f"{count} colour point{'s' if count != 1 else ''}"
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
    return described


# Family pages: what the registry does not say (architecture, training, strengths). Families
# that are not listed here still get a page from the registry's own descriptions.
FAMILY_INFO: dict[str, dict[str, Any]] = {
    "zhang": {
        "title": "Zhang et al. (ECCV16, SIGGRAPH17)",
        "summary": "Richard Zhang's colorization networks from UC Berkeley: the classic "
        "classification approach, and its user-guided successor that takes colour hints.",
        "architecture": "ECCV16 is a VGG-style stack of 3×3 convolutions with dilated layers "
        "in the middle. It looks at the lightness channel (L) at 256×256 and predicts, for "
        "every pixel, a probability over 313 quantised colours of the ab plane; the colour "
        "is the annealed mean of that distribution. SIGGRAPH17 is a U-Net that also takes "
        "sparse colour points and a mask, and regresses ab directly.",
        "training": "About 1.3 million ImageNet photos turned grey. ECCV16 uses a "
        "cross-entropy loss with class rebalancing, so rare saturated colours are not "
        "drowned out by brown and grey; SIGGRAPH17 adds randomly sampled hints during "
        "training so the network learns to spread them.",
        "strengths": [
            "Fast: one forward pass at 256×256, then the colour is scaled back up.",
            "Bold colour where the network is confident (skies, grass, skin).",
            "SIGGRAPH17 lets you steer the result with a few colour points.",
        ],
        "weaknesses": [
            "Colour bleeds across edges and can look blotchy.",
            "Low colour resolution: fine details take the colour of their surroundings.",
        ],
        "study_delta_e00": None,
    },
    "cnn": {
        "title": "The study's CNN",
        "summary": "The small convolutional network the original study built and trained "
        "itself in TensorFlow/Keras, retrained by Coloria.",
        "architecture": "A U-Net: an encoder halves a 160×160 grey image five times "
        "(128 → 512 filters, LeakyReLU, batch normalisation) and a decoder doubles it back "
        "with transposed convolutions, joined at each scale to the encoder and finally to "
        "the input. It predicts RGB; Coloria keeps only its colour.",
        "training": "Mean absolute error between predicted and true RGB on colour photos "
        "made grey. Coloria's pipeline trains it from scratch on an openly licensed photo set.",
        "strengths": ["Small and quick, even on a CPU.", "Gentle colours, rarely garish."],
        "weaknesses": [
            "A plain regression loss pulls colours towards the average: often brownish or dull.",
            "Works at 160×160, so colour is coarse on large photos.",
        ],
        "study_delta_e00": 9.42,
    },
    "deoldify-artistic": {
        "title": "DeOldify Artistic",
        "summary": "Jason Antic's DeOldify, Artistic model: the study's best (vivid, detailed).",
        "architecture": "A U-Net generator: a ResNet-34 encoder (trained on ImageNet "
        "classification first) and a deep decoder, 1.5× wider than usual, that upsamples "
        "four times with pixel shuffles (blurred against checkerboards), joins the encoder's "
        "feature map at each scale, and uses spectral normalisation and one self-attention "
        "layer. The photo is stretched to a square of render factor × 16 pixels (35: 560 px); "
        "the colour comes back at the photo's own size and keeps its own luminance.",
        "training": "NoGAN: the generator first learns alone with a perceptual loss (pixel "
        "L1 plus VGG16 feature L1) at 64, 128 and 192 px; a critic then learns to tell its "
        "colour from real colour; a short GAN phase (about 3 % of the data, weights 1 : 2 for "
        "the critic's opinion) adds realism without the usual GAN instability. The study "
        "trained it for 13 h 34 on 100,000 ImageNet photos.",
        "strengths": [
            "Vivid, bold colour with the most detail of the four study models.",
            "Best mean ΔE00 in the study (7.46).",
            "Render factor trades detail for steadiness and speed.",
        ],
        "weaknesses": [
            "Less steady on ordinary scenes: odd colours appear more often than with Stable.",
            "Heavy (64 million parameters): seconds per photo on a CPU.",
        ],
        "study_delta_e00": 7.46,
    },
    "deoldify-stable": {
        "title": "DeOldify Stable",
        "summary": "DeOldify's Stable model: natural faces and landscapes, less saturated.",
        "architecture": "The same U-Net recipe as Artistic on a bigger ResNet-101 encoder, "
        "with a wide and shallow decoder (one convolution per scale, 1024 channels). The "
        "Video model is the same network trained for colour that does not flicker between "
        "frames.",
        "training": "NoGAN, like Artistic, with a gentler GAN phase (weights 1 : 1.5). The "
        "study trained it for 3 days on 100,000 ImageNet photos.",
        "strengths": [
            "Natural skin tones, skies and landscapes; rarely garish.",
            "Second best mean ΔE00 in the study (7.87).",
        ],
        "weaknesses": [
            "Less saturated than Artistic.",
            "The heaviest model (218 million parameters): slow without a GPU.",
        ],
        "study_delta_e00": 7.87,
    },
    "bigcolor": {
        "title": "BigColor",
        "summary": "Geonung Kim and colleagues' BigColor (ECCV 2022): colour from the "
        "generative prior of BigGAN, an image generator trained on ImageNet.",
        "architecture": "An encoder of five class-conditional residual blocks reads the grey "
        "photo (short side 256) into 768 feature channels at 1/16 of its size. Those features "
        "replace the first two blocks of a BigGAN-256 generator, whose four remaining "
        "up-sampling blocks (with self-attention at 64 px) paint an RGB image. Both are "
        "conditioned on one of ImageNet's 1000 classes through BigGAN's shared class embedding, "
        "and the generator also draws a random latent z, so one photo has many plausible "
        "colorings. Coloria keeps the photo's own lightness and takes only the colour. 105 "
        "million parameters (encoder 23.1 M, generator 82.1 M).",
        "training": "The study fine-tuned encoder and generator together for 10 days on "
        "ImageNet 256 px crops (photos with little colour left out), starting from the "
        "pretrained BigGAN: pixel MSE ×1, VGG16 feature loss ×0.2 and a hinge adversarial loss "
        "×0.03 against BigGAN's projection discriminator, Adam (β 0, 0.999) at 1e-4 for the "
        "networks and 3e-5 for the discriminator, decayed ×0.9 per epoch, with an exponential "
        "moving average of the weights (0.999) used for colorizing.",
        "strengths": [
            "The most colourful of the study's models (published colourfulness 39.7, DeOldify "
            "21.3, with the best FID of the study's four).",
            "You choose the class, or ask for up to five candidates (the likeliest classes, or "
            "several seeds of your class) and keep the one you like.",
            "The same seed and class always give the same result.",
        ],
        "weaknesses": [
            "Colours follow the class: a wrong class (portraits have no ImageNet class) gives "
            "odd colours. Without an installed ImageNet classifier, 'auto' uses broad outdoor "
            "scenes.",
            "Works at a short side of 256 px: fine colour detail is limited.",
            "It can invent colours the photo never had: the study measured the largest "
            "difference from the true colours (ΔE00 12.49).",
        ],
        "study_delta_e00": 12.49,
    },
    "ddcolor": {
        "title": "DDColor",
        "summary": "Xiaoyang Kang and colleagues' DDColor (ICCV 2023): learnt colour queries "
        "decoded against the photo's features; the best published results of the models here.",
        "architecture": "A ConvNeXt encoder (ConvNeXt-L for DDColor-L, 228 million parameters; "
        "ConvNeXt-T for DDColor-T, 55 million) reads the grey photo, stretched to a square "
        "(512 px by default). Two decoders follow. A pixel decoder of three U-Net blocks and a "
        "×4 pixel shuffle rebuilds full-size image features. A colour decoder starts from 100 "
        "learnt colour queries and refines them in 9 transformer layers, each attending to the "
        "pixel decoder's features at 1/16, 1/8 or 1/4 of the size in turn. Every query's "
        "embedding is matched against every pixel's features, and a last 1×1 convolution turns "
        "those 100 maps into the a, b colour channels, which Coloria joins to the photo's own "
        "lightness at full resolution.",
        "training": "ImageNet at 256 px, 400,000 steps of batch 16 on 4 GPUs, the encoder "
        "starting from ImageNet-22k: L1 on a, b (×0.1), a VGG16 perceptual loss (×5), an "
        "adversarial loss against a U-Net discriminator (×1) and a colourfulness loss (×0.5) "
        "against dull colour, with targets colour-enhanced ×1.2; AdamW at 1e-4, halved after "
        "80,000 steps and every 40,000 after that. The ModelScope weights leave out photos "
        "with little colour (as BigColor did); the artistic ones add many artistic images and "
        "drop the colourfulness loss. "
        "Coloria's pipeline (python -m ml.train ddcolor) uses the same losses and optimiser, "
        "with DeOldify's patch critic as the discriminator and torchvision's ImageNet-1k "
        "ConvNeXt as the encoder's start.",
        "strengths": [
            "The best published figures of the models here (ImageNet val: FID 3.92 for DDColor-L, "
            "4.38 for DDColor-T; BigColor 5.36, DeOldify 6.59), with colourfulness close to the "
            "real photos'.",
            "Colour follows object edges: little of the bleeding of pixel-wise models.",
            "Four official weights: paper, ModelScope (the authors' default), artistic and "
            "the lighter DDColor-T.",
        ],
        "weaknesses": [
            "Heavy: DDColor-L has 228 million parameters and takes seconds per photo on a CPU.",
            "The colourfulness loss can leave unnatural colour patches (often red); the artistic "
            "weights, trained without it, have fewer.",
            "The photo is coloured as a square: very wide or tall photos are squeezed first.",
        ],
        "study_delta_e00": None,
    },
}

# The study's published mean ΔE00 per model (lower is closer to the original colours).
STUDY_RESULTS = [
    ("DeOldify Artistic", 7.46),
    ("DeOldify Stable", 7.87),
    ("CNN (the study's own)", 9.42),
    ("BigColor", 12.49),
]


@dataclass(frozen=True)
class Metric:
    label: str
    mean: float
    unit: str = ""
    better: str = ""
    ci_low: float | None = None
    ci_high: float | None = None
    grey: float | None = None  # the leave-it-grey baseline on the same photos


@dataclass
class ModelFigures:
    """One model's latest evaluation, checked value by value (the file may be damaged)."""

    metrics: list[Metric] = field(default_factory=list)
    seconds_per_image: float | None = None
    load_seconds: float | None = None
    peak_memory_mb: float | None = None
    cuda_peak_mb: float | None = None
    n_images: int | None = None
    device: str = ""
    evaluated_at: Any = None
    delta_e00_vs_grey: float | None = None


# (key in latest.json, label, unit, which way is better)
SHOWN_METRICS = [
    ("delta_e00", "ΔE00 (colour difference)", "", "lower is closer"),
    ("psnr", "PSNR", "dB", "higher is closer"),
    ("ssim", "SSIM", "", "higher is closer"),
    ("colourfulness", "Colourfulness", "", "closer to the original's is better"),
    ("ab_error_share", "Pixels with a clearly wrong colour", "%", "lower is better"),
]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _model_figures(entry: dict[str, Any]) -> ModelFigures | None:
    stats = _mapping(entry.get("metrics"))
    grey = _mapping(entry.get("grey_baseline"))
    figures = ModelFigures()
    for key, label, unit, better in SHOWN_METRICS:
        stat = _mapping(stats.get(key))
        mean = _number(stat.get("mean"))
        if mean is None:
            continue
        figures.metrics.append(
            Metric(
                label=label,
                mean=mean,
                unit=unit,
                better=better,
                ci_low=_number(stat.get("ci_low")),
                ci_high=_number(stat.get("ci_high")),
                grey=_number(_mapping(grey.get(key)).get("mean")),
            )
        )
    if not figures.metrics:
        return None
    timing = _mapping(entry.get("timing"))
    memory = _mapping(entry.get("memory"))
    figures.seconds_per_image = _number(timing.get("seconds_per_image_mean"))
    figures.load_seconds = _number(timing.get("load_seconds"))
    figures.peak_memory_mb = _number(memory.get("peak_rss_mb"))
    figures.cuda_peak_mb = _number(memory.get("cuda_peak_mb"))
    n_images = entry.get("n_images")
    figures.n_images = n_images if isinstance(n_images, int) and n_images >= 0 else None
    device = entry.get("device")
    figures.device = device if isinstance(device, str) else ""
    stamp = entry.get("evaluated_at")
    if isinstance(stamp, str):
        try:
            figures.evaluated_at = parse_datetime(stamp.replace("Z", "+00:00"))
        except ValueError:
            figures.evaluated_at = None
    figures.delta_e00_vs_grey = _number(
        _mapping(_mapping(entry.get("vs_grey")).get("delta_e00")).get("mean")
    )
    return figures


def evaluations_file() -> Path:
    return Path(settings.COLORIA_DATA_DIR) / "evaluations" / "latest.json"


def evaluation_figures(path: Path | None = None) -> dict[str, ModelFigures]:
    """The figures `manage.py evaluate` stored, per model key; {} if missing or unreadable."""
    path = path or evaluations_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("ignoring unreadable evaluation figures in %s", path)
        return {}
    figures = {}
    for key, entry in _mapping(_mapping(data).get("models")).items():
        if isinstance(key, str) and isinstance(entry, dict):
            model = _model_figures(entry)
            if model is not None:
                figures[key] = model
    return figures


@dataclass(frozen=True)
class FamilyModel:
    choice: ModelChoice
    figures: ModelFigures | None
    card: Card | None = None  # for own-trained weights that ship with Coloria


@dataclass(frozen=True)
class Family:
    key: str
    title: str
    summary: str
    info: dict[str, Any]
    models: list[FamilyModel]


def model_families(*, with_figures: bool = False) -> list[Family]:
    """One entry per model family in the registry, in registry order."""
    figures = evaluation_figures() if with_figures else {}
    grouped: dict[str, list[FamilyModel]] = {}
    for choice in model_choices():
        grouped.setdefault(choice.spec.family, []).append(
            FamilyModel(
                choice,
                figures.get(choice.spec.key),
                card_for(choice.spec.key) if with_figures else None,
            )
        )
    families = []
    for key, models in grouped.items():
        info = FAMILY_INFO.get(key, {})
        families.append(
            Family(
                key=key,
                title=info.get("title") or key.replace("-", " ").title(),
                summary=info.get("summary") or models[0].choice.spec.hint,
                info=info,
                models=models,
            )
        )
    return families


def model_family(key: str) -> Family | None:
    return next((f for f in model_families(with_figures=True) if f.key == key), None)


# --- Accounts and moderation: counts ----------------------------------------------------------


def owner_job_counts(*, owner: Any) -> dict[str, int]:
    """A user's jobs per status, with "total" (for the profile page)."""
    counts = {status: 0 for status in Job.Status.values}
    for row in Job.objects.filter(owner=owner).values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


@dataclass(frozen=True)
class MediaUsage:
    originals_bytes: int
    results_bytes: int
    other_bytes: int
    files: int
    disk_free_bytes: int | None

    @property
    def total_bytes(self) -> int:
        return self.originals_bytes + self.results_bytes + self.other_bytes


def media_usage() -> MediaUsage:
    """Bytes under MEDIA_ROOT: originals, results, anything else; and the disk's free space."""
    root = Path(settings.MEDIA_ROOT)
    sizes = {"originals": 0, "results": 0, "other": 0}
    files = 0
    for folder, _, names in os.walk(root):
        relative = Path(folder).relative_to(root).parts
        kind = relative[0] if relative and relative[0] in sizes else "other"
        for name in names:
            try:
                sizes[kind] += (Path(folder) / name).stat().st_size
            except OSError:  # deleted while we walked
                continue
            files += 1
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = None
    return MediaUsage(sizes["originals"], sizes["results"], sizes["other"], files, free)


@dataclass(frozen=True)
class ModelFailures:
    model_key: str
    model_name: str
    finished: int
    failed: int

    @property
    def failure_rate(self) -> float:
        return self.failed / self.finished if self.finished else 0.0


@dataclass(frozen=True)
class Dashboard:
    now: Any
    queued: int
    running: int
    oldest_queued_at: Any
    broker_queue: int | None  # tasks waiting in django-q2's broker; None if it cannot be asked
    per_status_24h: list[tuple[str, str, int]]  # (status, label, jobs queued in the last 24 h)
    failures_by_model: list[ModelFailures]  # the last 7 days, most failures first
    media: MediaUsage


def _broker_queue_size() -> int | None:
    try:
        from django_q.brokers import get_broker

        return int(get_broker().queue_size())
    except Exception:  # the dashboard must render even when the broker is down
        log.warning("could not read the queue broker's size", exc_info=True)
        return None


def dashboard(*, now: Any = None) -> Dashboard:
    """What the admin dashboard shows: the queue now, the last day, failures, disk."""
    now = now or timezone.now()
    waiting = Job.objects.filter(status=Job.Status.QUEUED)
    day = dict(
        Job.objects.filter(queued_at__gte=now - timedelta(hours=24))
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    week = (
        Job.objects.filter(finished_at__gte=now - timedelta(days=7), status__in=list(Job.FINISHED))
        .values("model_key")
        .annotate(finished=Count("pk"), failed=Count("pk", filter=Q(status=Job.Status.FAILED)))
    )
    failures = [
        ModelFailures(
            row["model_key"], model_name(row["model_key"]), row["finished"], row["failed"]
        )
        for row in week
    ]
    failures.sort(key=lambda f: (-f.failed, -f.failure_rate, f.model_name))
    return Dashboard(
        now=now,
        queued=waiting.count(),
        running=Job.objects.filter(status=Job.Status.RUNNING).count(),
        oldest_queued_at=waiting.order_by("queued_at").values_list("queued_at", flat=True).first(),
        broker_queue=_broker_queue_size(),
        per_status_24h=[(s.value, s.label, day.get(s.value, 0)) for s in Job.Status],
        failures_by_model=failures,
        media=media_usage(),
    )
