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
from ml.registry import Family, ModelSpec, get_family
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
class FamilyPage:
    key: str
    title: str
    summary: str
    info: Family | None  # the family's record in the catalogue (architecture, training, ...)
    models: list[FamilyModel]


def model_families(*, with_figures: bool = False) -> list[FamilyPage]:
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
