"""The admin dashboard's figures: the queue, jobs per status, failures by model, disk used."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage
from django.db.models import Count, Q
from django.utils import timezone

from ..models import Job, Upload
from .model_pages import model_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaUsage:
    originals_bytes: int
    results_bytes: int
    other_bytes: int
    files: int
    disk_free_bytes: int | None
    # Where the photos are: "disk" (MEDIA_ROOT), "bucket" (S3), or "elsewhere" (not measured).
    where: str = "disk"
    # False when the bucket held more objects than one dashboard look lists: figures are a floor.
    complete: bool = True

    @property
    def total_bytes(self) -> int:
        return self.originals_bytes + self.results_bytes + self.other_bytes


# A bucket is listed a thousand objects per request: stop after this many so that the dashboard
# stays quick on a large site (its figures then say "at least").
BUCKET_LIST_LIMIT = 20_000
_KINDS = ("originals", "results")


def media_usage() -> MediaUsage:
    """Bytes stored for photos: originals, results, anything else (renditions, references); on a
    disk also its free space. Measured where the photos are: MEDIA_ROOT, or the S3 bucket."""
    storage = Upload.image.field.storage
    if isinstance(storage, FileSystemStorage):
        return _disk_usage(Path(storage.location))
    if hasattr(storage, "bucket_name") and hasattr(storage, "connection"):
        return _bucket_usage(storage)
    return MediaUsage(0, 0, 0, 0, None, where="elsewhere", complete=False)


def _disk_usage(root: Path) -> MediaUsage:
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


def _bucket_usage(storage: Any) -> MediaUsage:
    """Sizes from the bucket's listing itself (no request per object), up to the limit."""
    sizes = {"originals": 0, "results": 0, "other": 0}
    files = 0
    prefix = f"{storage.location.strip('/')}/" if storage.location.strip("/") else ""
    try:
        pages = storage.connection.meta.client.get_paginator("list_objects_v2").paginate(
            Bucket=storage.bucket_name,
            Prefix=prefix,
            PaginationConfig={"PageSize": min(1000, BUCKET_LIST_LIMIT)},
        )
        for page in pages:
            for item in page.get("Contents", []):
                folder = item["Key"][len(prefix) :].split("/", 1)[0]
                sizes[folder if folder in _KINDS else "other"] += item["Size"]
                files += 1
            if files >= BUCKET_LIST_LIMIT and page.get("IsTruncated"):
                return MediaUsage(*sizes.values(), files, None, where="bucket", complete=False)
    except Exception:  # the dashboard must render even when the bucket cannot be reached
        log.warning("could not list the photo bucket", exc_info=True)
        return MediaUsage(0, 0, 0, 0, None, where="bucket", complete=False)
    return MediaUsage(*sizes.values(), files, None, where="bucket")


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

        from colorize import queues

        return sum(int(get_broker(name).queue_size()) for name in queues.cluster_names())
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
