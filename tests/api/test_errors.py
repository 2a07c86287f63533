"""Error answers: 400 is always {field: [messages]}; 429 says when to come back."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from colorize.models import Batch, Upload
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

API = "/api/v1"


def photo(name: str = "p.png", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, encode(make_photo()) if data is None else data)


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def api(api_client, ann, media_root):
    return api_client(ann)


def assert_field_errors(response, *fields: str) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    errors = response.json()
    assert set(errors) == set(fields)
    for messages in errors.values():
        assert messages and all(isinstance(m, str) and m for m in messages)
    return errors


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"model": "zhang-eccv16"}, "images", "required"),
        ({"images": [photo()], "model": "sepia"}, "model", "Unknown model"),
        ({"images": [photo()], "model": "zhang-siggraph17"}, "model", "not installed"),
        ({"images": [photo(), photo()], "model": "all"}, "images", "single image"),
        ({"images": [photo() for _ in range(6)], "model": "zhang-eccv16"}, "images", "At most 5"),
        ({"images": [photo("x.png", b"not an image")], "model": "zhang-eccv16"}, "images",
         "x.png could not be read"),
        ({"images": [photo("e.png", b"")], "model": "zhang-eccv16"}, "images", "empty"),
        ({"images": ["text"], "model": "zhang-eccv16"}, "images", "not a file"),
        ({"images": [photo()], "model": "zhang-eccv16", "temperature": "7"}, "params",
         "between 0.1 and 1"),
        ({"images": [photo()], "model": "zhang-eccv16", "temperature": "nan"}, "params",
         "'nan' is not a number"),
        ({"images": [photo()], "model": "zhang-eccv16", "strength": "3"}, "params",
         "does not take the parameter"),
        ({"images": [photo()], "model": "all", "bogus": "1"}, "params",
         "None of the models takes the parameter(s): bogus."),
        ({"images": [photo()], "model": "zhang-eccv16", "callback_url": "nope"}, "callback_url",
         "valid URL"),
    ],
    ids=["nothing", "unknown-model", "not-installed", "all-needs-one", "too-many", "corrupt",
         "empty", "not-a-file", "out-of-range", "not-a-number", "unknown-param",
         "unknown-param-all", "bad-url"],
)  # fmt: skip
def test_refused_submissions_name_the_field(api, data, field, text):
    errors = assert_field_errors(api.post(f"{API}/jobs", data), field)
    assert text in " ".join(errors[field])
    assert not Batch.objects.exists() and not Upload.objects.exists()


def test_missing_fields_are_each_reported(api):
    assert_field_errors(api.post(f"{API}/jobs", {}), "images", "model")


def test_json_bodies_are_refused(api):
    response = api.post(f"{API}/jobs", {"model": "zhang-eccv16"}, content_type="application/json")
    assert response.status_code == 415 and "detail" in response.json()


def test_bad_filters_and_formats(api, ann, colorize_photos):
    assert_field_errors(api.get(f"{API}/jobs", {"status": "lost"}), "status")
    job = colorize_photos(owner=ann).jobs.get()
    assert_field_errors(api.get(f"{API}/jobs/{job.id}/result", {"format": "gif"}), "format")


def test_no_result_yet_is_a_conflict(api, settings):
    response = api.post(f"{API}/jobs", {"images": [photo()], "model": "zhang-eccv16"})
    job = response.json()["jobs"][0]  # queued: nothing runs it in this test
    conflict = api.get(f"{job['url']}/result")
    assert conflict.status_code == 409 and "no result" in conflict.json()["detail"]


def test_unknown_job_is_404_with_a_detail(api):
    response = api.get(f"{API}/jobs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and set(response.json()) == {"detail"}


@pytest.mark.parametrize("path", ["/jobs/", "/jobs/123", "/", "/batches", "/models/"], ids=str)
def test_addresses_that_match_no_route_answer_json_too(api, path):
    response = api.get(f"{API}{path}")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "schema" in response.json()["detail"]


def test_a_request_with_too_many_fields_is_a_json_400(api):
    response = api.get(f"{API}/jobs", {f"k{i}": "v" for i in range(1001)})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "malformed" in response.json()["detail"]


def test_a_crafted_cursor_is_refused_on_the_cursor_field(api, ann, colorize_photos):
    import base64

    colorize_photos(owner=ann)
    for raw in ("garbage", base64.b64encode(b"p=not-a-date").decode(),
                base64.b64encode(b"o=100000000&p=x").decode()):  # fmt: skip
        errors = assert_field_errors(api.get(f"{API}/jobs", {"cursor": raw}), "cursor")
        assert "Invalid cursor" in errors["cursor"][0]


def test_image_downloads_honour_image_accept_headers(api, ann, colorize_photos):
    job = colorize_photos(owner=ann).jobs.get()
    for path, accept, expected in [
        ("result", "image/png", "image/png"),
        ("result?format=jpeg", "image/jpeg", "image/jpeg"),
        ("original", "image/*", "image/"),
    ]:
        response = api.get(f"{API}/jobs/{job.id}/{path}", HTTP_ACCEPT=accept)
        assert response.status_code == 200, (path, response.content[:200])
        assert response["Content-Type"].startswith(expected)
    missing = api.get(f"{API}/jobs/00000000-0000-0000-0000-000000000000/result",
                      HTTP_ACCEPT="image/png")  # fmt: skip
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_reads_are_throttled_with_retry_after(api, settings):
    _rates(settings, submit="2/minute", read="3/minute")
    assert [api.get(f"{API}/jobs").status_code for _ in range(3)] == [200, 200, 200]
    throttled = api.get(f"{API}/models")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "throttled" in throttled.json()["detail"].lower()
    # Submits have their own scope (refused ones count too: they were requests).
    assert api.post(f"{API}/jobs", {}).status_code == 400


def test_a_scope_without_a_rate_is_not_limited(api, settings):
    _rates(settings, submit="2/minute", read=None)  # COLORIA_API_READ_RATE=off
    assert {api.get(f"{API}/jobs").status_code for _ in range(5)} == {200}


def test_submits_are_throttled_apart_from_reads(api, settings):
    _rates(settings, submit="2/minute", read="100/minute")
    assert [api.post(f"{API}/jobs", {}).status_code for _ in range(3)] == [400, 400, 429]
    assert api.get(f"{API}/jobs").status_code == 200


def test_anonymous_callers_are_throttled_per_address(api_client, settings):
    _rates(settings, read="2/minute")
    anonymous = api_client()
    assert [anonymous.get(f"{API}/models").status_code for _ in range(3)] == [200, 200, 429]
    other_address = anonymous.get(f"{API}/models", REMOTE_ADDR="10.0.0.9")
    assert other_address.status_code == 200


def test_a_non_ascii_name_survives_in_api_downloads(api, ann, colorize_photos):
    job = colorize_photos(owner=ann, name="Großvater – Foto.png").jobs.get()
    for query in ("", "?format=jpeg"):
        disposition = api.get(f"{API}/jobs/{job.id}/result{query}")["Content-Disposition"]
        assert disposition.startswith("attachment; filename*=utf-8''Gro%C3%9Fvater")
