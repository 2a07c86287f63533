"""Deleting stored content: rows and their files together (files once the deletion commits)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from ..models import Batch, Job, Kind, Result, Upload

log = logging.getLogger(__name__)


def delete_files_on_commit(names: list[tuple[Any, str]]) -> None:
    """Delete stored files once the rows that named them are gone for good."""

    def delete() -> None:
        for storage, name in names:
            try:
                storage.delete(name)
            except Exception:  # a disk's OSError, a bucket's botocore errors: log, go on
                log.warning("could not delete %s", name, exc_info=True)

    transaction.on_commit(delete)


def delete_work_dirs_on_commit(job_ids: list[Any]) -> None:
    """A film's frames kept between runs (colorize.services.films.work_dir) go with its job."""
    from .films import delete_work_dirs

    job_ids = list(job_ids)
    if job_ids:
        transaction.on_commit(lambda: delete_work_dirs(job_ids))


def files_of_uploads(upload_ids: list[Any]) -> list[tuple[Any, str]]:
    upload_storage = Upload.image.field.storage
    result_storage = Result.image.field.storage
    names = [
        (result_storage, name)
        for row in Result.objects.filter(job__upload_id__in=upload_ids).values_list(
            "image", "poster"
        )
        for name in row
        if name
    ]
    names += [
        (upload_storage, name)
        for row in Upload.objects.filter(pk__in=upload_ids).values_list(
            "image", "rendition", "reference"
        )
        for name in row
        if name
    ]
    return names


def job_delete(*, job: Job) -> None:
    """Delete a job and its result file; the original too when no other job uses it, and the
    batch when nothing is left in it."""
    with transaction.atomic():
        upload_id, batch_id = job.upload_id, job.batch_id
        names = [
            (Result.image.field.storage, name)
            for row in Result.objects.filter(job_id=job.pk).values_list("image", "poster")
            for name in row
            if name
        ]
        Job.objects.filter(pk=job.pk).delete()
        delete_work_dirs_on_commit([job.pk])
        if not Job.objects.filter(upload_id=upload_id).exists():
            names += files_of_uploads([upload_id])
            Upload.objects.filter(pk=upload_id).delete()
        if not Upload.objects.filter(batch_id=batch_id).exists():
            Batch.objects.filter(pk=batch_id).delete()
        delete_files_on_commit(names)


def owner_content_delete(*, owner: Any) -> int:
    """Delete everything a user sent: batches, photos, jobs, results, and their files (once the
    transaction commits). Returns the number of photos deleted."""
    with transaction.atomic():
        upload_ids = list(Upload.objects.filter(owner=owner).values_list("pk", flat=True))
        delete_files_on_commit(files_of_uploads(upload_ids))
        films = Job.objects.filter(owner=owner, kind=Kind.VIDEO).values_list("pk", flat=True)
        delete_work_dirs_on_commit(films)
        Job.objects.filter(owner=owner).delete()
        Upload.objects.filter(pk__in=upload_ids).delete()
        Batch.objects.filter(owner=owner).delete()
    return len(upload_ids)
