"""DDColor through the REST API: listed with its input size, which is validated and used."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_the_api_lists_validates_and_runs_ddcolor(
    api_client, make_user, ddcolor_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    api = api_client(make_user("ann"))
    models = {m["key"]: m for m in api.get("/api/v1/models").json()}
    size = next(p for p in models[ddcolor_model]["parameters"] if p["name"] == "input_size")
    assert (size["min"], size["max"], size["default"]) == (256, 1024, 512)
    assert models["ddcolor-paper"]["installed"] is False
    assert models[ddcolor_model]["installed"] is True
    response = api.post(
        "/api/v1/jobs",
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": ddcolor_model,
         "input_size": "100"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Input size must be between 256 and 1024" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(make_photo()))],
             "model": ddcolor_model, "input_size": "256"},
        )  # fmt: skip
    assert response.status_code == 202
    job = api.get(response.json()["jobs"][0]["url"]).json()
    assert job["status"] == "succeeded" and job["params"] == {"input_size": 256}
