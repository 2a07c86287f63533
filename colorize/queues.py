"""Which queue a job goes to: the GPU queue for models that need a GPU to be practical, when the
site splits its queues (COLORIA_GPU_QUEUE), else the one queue every worker serves.

django-q2 calls a queue a cluster: a `qcluster` process takes the tasks of one cluster name
(Q_CLUSTER's `cluster_name`, set from COLORIA_WORKER_QUEUES in the settings). The main queue keeps
the site's name (COLORIA_QUEUE_NAME), so a site that never splits, and django-q2's schedules
(which run on the workers of that name), are unchanged.
"""

from __future__ import annotations

from django.conf import settings

from ml.errors import UnknownModel
from ml.registry import get_spec

CPU, GPU = "cpu", "gpu"


def queue_of(model_key: str) -> str:
    """The kind of worker a model's jobs need: "gpu" or "cpu" (unknown models: "cpu", where a
    worker fails them with a reason)."""
    try:
        return get_spec(model_key).queue
    except UnknownModel:
        return CPU


def cluster_name(queue: str) -> str:
    """The django-q2 cluster (broker queue) name of a kind of worker, on this site."""
    if queue == GPU and settings.COLORIA_GPU_QUEUE:
        return settings.COLORIA_GPU_QUEUE_NAME
    return settings.COLORIA_QUEUE_NAME


def cluster_for_model(model_key: str) -> str:
    return cluster_name(queue_of(model_key))


def cluster_names() -> list[str]:
    """Every queue name jobs may wait in (the sweeper and the dashboard look in each)."""
    return list(dict.fromkeys(cluster_name(queue) for queue in (CPU, GPU)))
