"""Colour scribbles through the API: submit strokes, refine a result, bad strokes refused."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from colorize.models import Batch, Job
from ml import metrics
from tests.conftest import encode

pytestmark = pytest.mark.django_db(transaction=True)  # synchronous jobs run on commit

RED_STROKE = {"points": [[10, 30], [50, 30]], "color": "#c82828", "width": 6}


def _two_regions() -> Image.Image:
    gray = np.full((60, 120), 90, np.uint8)
    gray[:, 60:] = 170
    return Image.fromarray(gray)


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("regions.png", encode(_two_regions()))


@pytest.fixture
def api(api_client, make_user, settings, media_root):
    settings.COLORIA_SYNC_JOBS = True  # the job runs inside the request
    return api_client(make_user("painter"))


def _refine(api, job_id, hints):
    return api.post(f"/api/v1/jobs/{job_id}/refine", json.dumps({"hints": hints}),
                    content_type="application/json")  # fmt: skip


def _result(api, job_id) -> np.ndarray:
    response = api.get(f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(b"".join(response.streaming_content))).convert("RGB"))


def test_scribbles_colour_a_photo_through_the_api(api):
    hints = json.dumps([RED_STROKE, [100, 30, "#2846c8"]])
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "scribbles",
                                         "hints": hints})  # fmt: skip
    assert response.status_code == 202, response.content
    (job,) = response.json()["jobs"]
    assert job["status"] == "succeeded", job
    stored = Job.objects.get(pk=job["id"])
    assert stored.result.details["working_size"] == "120×60"
    lab = metrics.as_float_rgb(_result(api, job["id"]))
    assert lab[30, 20, 0] > lab[30, 20, 2] and lab[30, 100, 2] > lab[30, 100, 0]  # red | blue


@pytest.mark.parametrize(
    ("hints", "reason"),
    [
        ("", "needs colour strokes"),
        ('[[500, 10, "#ff0000"]]', "lies outside regions.png (120×60 pixels)"),
        ('[{"points": [[1, 2]], "color": "red"}]', "bad colour"),
        ('[{"points": [[1, 2]], "color": "#ff0000", "width": 9999}]', "width is 1 to 500"),
    ],
)
def test_bad_strokes_are_refused_with_the_reason(api, hints, reason):
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "scribbles",
                                         "hints": hints})  # fmt: skip
    assert response.status_code == 400, response.content
    assert reason in response.json()["params"][0]
    assert not Job.objects.exists()


def test_refining_repaints_what_the_strokes_touch_and_keeps_the_rest(api):
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "zhang-eccv16"})
    (job,) = response.json()["jobs"]
    base = _result(api, job["id"])
    response = _refine(api, job["id"], [RED_STROKE])
    assert response.status_code == 202, response.content
    refined = response.json()
    assert refined["status"] == "succeeded" and refined["model"] == "scribbles"
    stored = Job.objects.get(pk=refined["id"])
    assert (
        stored.params["refines"] == job["id"]
        and stored.batch_id == Job.objects.get(pk=job["id"]).batch_id
    )
    after = _result(api, refined["id"])
    # Across the edge from the stroke, the model's colours stay (within 1 ΔE00).
    assert metrics.delta_e00_map(after[:, 66:], base[:, 66:]).max() < 1.0
    assert metrics.delta_e00_map(after[28:33, 12:49], base[28:33, 12:49]).mean() > 5


def test_refining_refuses_bad_strokes_and_other_peoples_jobs(api, api_client, make_user):
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "zhang-eccv16"})
    (job,) = response.json()["jobs"]
    response = _refine(api, job["id"], [])
    assert response.status_code == 400 and "needs colour strokes" in response.json()["hints"][0]
    response = _refine(api, job["id"], [[1000, 5, "#ff0000"]])
    assert response.status_code == 400 and "lies outside" in response.json()["hints"][0]
    assert _refine(api_client(make_user("stranger")), job["id"], [RED_STROKE]).status_code == 404
    assert Job.objects.count() == 1


def test_the_job_to_refine_cannot_be_named_by_callers(api):
    other = api.post("/api/v1/jobs", {"images": [_photo()], "model": "zhang-eccv16"})
    (job,) = other.json()["jobs"]
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": "scribbles",
                                         "hints": json.dumps([RED_STROKE]),
                                         "refines": job["id"]})  # fmt: skip
    assert response.status_code == 400
    assert "set by Coloria: refines" in response.json()["params"][0]


def test_all_models_leaves_scribbles_out_without_strokes_and_runs_them_with(api):
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": Batch.ALL_MODELS})
    assert response.status_code == 202
    assert "scribbles" not in {job["model"] for job in response.json()["jobs"]}
    response = api.post("/api/v1/jobs", {"images": [_photo()], "model": Batch.ALL_MODELS,
                                         "hints": json.dumps([RED_STROKE])})  # fmt: skip
    by_model = {job["model"]: job for job in response.json()["jobs"]}
    assert by_model["scribbles"]["status"] == "succeeded"


def test_models_list_says_scribbles_need_strokes_and_are_never_the_default(api):
    models = {model["key"]: model for model in api.get("/api/v1/models").json()}
    scribbles = models["scribbles"]
    assert scribbles["installed"] and not scribbles["is_default"]
    (hints,) = scribbles["parameters"]
    assert hints["name"] == "hints" and hints["required"] is True
