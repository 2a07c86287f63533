"""Colour hints crafted to break the server (infinite numbers, deep nesting, megabytes of
points) are refused with a 400 that says why, through the form, the re-run form and the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from colorize.models import Job
from ml.registry import MAX_HINTS
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

HOSTILE = {
    "infinity": ("[[1, 2, [Infinity, 0, 0]]]", "finite"),
    "huge number": ("[[1e400, 2, [0, 0, 0]]]", "finite"),
    "deep nesting": ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
    "100,000 brackets": ("[" * 100_000 + "]" * 100_000, "KB of hints"),
    "too many": (str([[1, 2, [0, 0, 0]]] * (MAX_HINTS + 1)), f"at most {MAX_HINTS}"),
    "megabytes": ("[" + ",".join(["[1, 2, [0, 0, 0]]"] * 200_000) + "]", "KB of hints"),
    "not a list": ('{"x": 1}', "must be a list"),
    "booleans": ("[[true, 2, [0, 0, 0]]]", "finite numbers"),
}


def _photo(name: str = "p.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, encode(make_photo(64, 48)))


@pytest.mark.parametrize("case", HOSTILE)
def test_upload_form_refuses_hostile_hints(client, hint_model, media_root, case):
    text, reason = HOSTILE[case]
    response = client.post(
        reverse("colorize:home"),
        {"images": [_photo()], "model": hint_model, f"{hint_model}:hints": text},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Colour hints" in page and reason in page
    assert len(page) < 200_000  # the refused value is not echoed back in full
    assert not Job.objects.exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_api_refuses_hostile_hints(api_client, make_user, hint_model, media_root, case):
    text, reason = HOSTILE[case]
    api = api_client(make_user("mallory"))
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": hint_model, "hints": text})
    assert response.status_code == 400, response.content[:300]
    (message,) = response.json()["params"]
    assert "Colour hints" in message and reason in message
    assert len(response.content) < 2_000
    assert not Job.objects.exists()


@pytest.mark.parametrize("case", ["infinity", "deep nesting", "too many"])
def test_rerun_form_refuses_hostile_hints(
    client, hint_model, settings, media_root, django_capture_on_commit_callbacks, case
):
    settings.COLORIA_SYNC_JOBS = True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("colorize:home"), {"images": [_photo()], "model": hint_model})
    job = Job.objects.get()
    text, reason = HOSTILE[case]
    response = client.post(reverse("colorize:job-rerun", args=[job.id]), {"param_hints": text})
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert Job.objects.count() == 1
