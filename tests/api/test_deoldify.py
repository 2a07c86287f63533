"""DeOldify through the REST API: the render factor is listed and validated."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_the_api_lists_and_validates_the_render_factor(api_client, make_user, deoldify_model):
    api = api_client(make_user("ann"))
    models = {m["key"]: m for m in api.get("/api/v1/models").json()}
    factor = next(p for p in models[deoldify_model]["parameters"] if p["name"] == "render_factor")
    assert (factor["min"], factor["max"], factor["default"]) == (7, 45, 35)
    assert models["deoldify-artistic-coloria"]["installed"] is False
    response = api.post(
        "/api/v1/jobs",
        {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": deoldify_model,
         "render_factor": "3"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Render factor must be between 7 and 45" in response.content.decode()
