"""BigColor through the REST API: class, seed and candidates listed and validated; candidates
become jobs; what the model chose comes back in `details`; the class list is published."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db


def test_the_api_lists_bigcolor_parameters(api_client, make_user, bigcolor_model):
    api = api_client(make_user("ann"))
    models = {m["key"]: m for m in api.get("/api/v1/models").json()}
    params = {p["name"]: p for p in models[bigcolor_model]["parameters"]}
    assert set(params) == {"imagenet_class", "seed", "candidates"}
    assert params["imagenet_class"]["kind"] == "imagenet_class"
    assert params["imagenet_class"]["default"] == -1
    assert (params["candidates"]["min"], params["candidates"]["max"]) == (1, 5)
    classes = api.get("/api/v1/imagenet-classes").json()
    assert len(classes) == 1000 and classes[979] == {"index": 979, "name": "valley"}


def test_candidates_through_the_api(
    api_client, make_user, bigcolor_model, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    api = api_client(make_user("ann"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(make_photo()))],
             "model": bigcolor_model, "imagenet_class": "valley", "seed": "12",
             "candidates": "2"},
        )  # fmt: skip
    assert response.status_code == 202, response.content
    jobs = response.json()["jobs"]
    assert [job["params"]["candidate"] for job in jobs] == [1, 2]
    finished = [api.get(f"/api/v1/jobs/{job['id']}").json() for job in jobs]
    assert [job["status"] for job in finished] == ["succeeded", "succeeded"]
    details = [dict(job["details"]) for job in finished]
    # BigColor runs fast by default, and the details say so.
    assert all(each.pop("inference").startswith("fast (") for each in details)
    assert details == [{"imagenet_class": 979, "seed": 12}, {"imagenet_class": 979, "seed": 13}]
    assert finished[1]["model_name"] == "BigColor (official) · candidate 2 of 2"


def test_bad_bigcolor_parameters_get_a_400(api_client, make_user, bigcolor_model, media_root):
    api = api_client(make_user("ann"))
    for field, value, message in (
        ("imagenet_class", "unicorn", "is not one of the 1000 classes"),
        ("candidates", "9", "Candidates must be between 1 and 5"),
    ):
        response = api.post(
            "/api/v1/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(make_photo()))],
             "model": bigcolor_model, field: value},
        )  # fmt: skip
        assert response.status_code == 400
        assert message in response.content.decode()
