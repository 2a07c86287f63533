"""A worker keeps its models within the site's model cache settings: the site hands them to ml,
and a model unused for COLORIA_MODEL_TTL is released before the worker's next job."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps

import ml
from colorize import tasks
from ml import runtime
from tests.conftest import make_photo


def test_the_site_hands_its_model_cache_settings_to_ml(settings):
    settings.COLORIA_MODEL_CACHE_MB = 3000
    settings.COLORIA_MODEL_TTL = 900
    apps.get_app_config("colorize").ready()
    assert (ml.config.settings.model_cache_mb, ml.config.settings.model_ttl) == (3000, 900)


@pytest.mark.django_db
def test_a_worker_releases_idle_models_before_its_next_job(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(runtime, "clock", lambda: now[0])
    ml.configure(model_ttl=600)
    ml.colorize(make_photo(), model="zhang-eccv16")
    now[0] += 599
    tasks.run_job(str(uuid.uuid4()))  # a job that is gone: nothing to run
    assert [key[0] for key in runtime.loaded()] == ["zhang-eccv16"]
    now[0] += 1
    tasks.run_job(str(uuid.uuid4()))
    assert runtime.loaded() == {}
