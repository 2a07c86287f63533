"""The OpenAPI schema: valid, complete, and what the endpoints really answer."""

from __future__ import annotations

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.validation import validate_schema

from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

API = "/api/v1"
PATHS = {
    "/api/v1/models": {"get"},
    "/api/v1/imagenet-classes": {"get"},
    "/api/v1/jobs": {"get", "post"},
    "/api/v1/jobs/{job_id}": {"get", "delete"},
    "/api/v1/jobs/{job_id}/result": {"get"},
    "/api/v1/jobs/{job_id}/original": {"get"},
    "/api/v1/jobs/{job_id}/poster": {"get"},
    "/api/v1/jobs/{job_id}/cancel": {"post"},
    "/api/v1/jobs/{job_id}/retry": {"post"},
    "/api/v1/jobs/{job_id}/refine": {"post"},
    "/api/v1/jobs/{job_id}/publish": {"post"},
    "/api/v1/jobs/{job_id}/unpublish": {"post"},
    "/api/v1/jobs/{job_id}/share": {"post", "delete"},
    "/api/v1/callback-secret": {"get"},
}


@pytest.fixture
def openapi(client) -> dict:
    response = client.get(f"{API}/schema", headers={"Accept": "application/json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_and_lists_every_endpoint(openapi):
    validate_schema(openapi)
    operations = {path: set(item) - {"parameters"} for path, item in openapi["paths"].items()}
    assert operations == PATHS
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}"
            assert operation.get("summary") and operation.get("description"), where
            assert {"401", "429"} <= codes, where  # a bad token, a throttle: anywhere
            assert "Retry-After" in operation["responses"]["429"]["headers"], where
            if "{job_id}" in path:
                assert "404" in codes, where
            if method != "get":
                assert "403" in codes, where  # CSRF, for sessions


def test_submit_documents_files_and_model_parameters(openapi):
    form = openapi["components"]["schemas"]["JobSubmitRequest"]
    assert form["properties"]["images"]["items"]["format"] == "binary"
    assert {"model", "callback_url", "temperature", "hints"} <= set(form["properties"])
    assert set(form["required"]) == {"images", "model"}
    result = openapi["paths"]["/api/v1/jobs/{job_id}/result"]["get"]
    assert {"image/png", "image/jpeg", "video/mp4"} == set(result["responses"]["200"]["content"])
    assert any(p["name"] == "format" for p in result["parameters"])


def test_docs_page_is_served_with_local_assets(client):
    page = client.get(f"{API}/docs").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


def _json_schema(openapi: dict, name: str) -> dict:
    """A component as JSON Schema: `nullable` becomes a null alternative, refs point into
    `definitions`, and objects allow no property the schema does not name."""

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: convert(value) for key, value in node.items()}
        if "$ref" in node:
            node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/definitions/")
        if "properties" in node:
            node.setdefault("additionalProperties", False)
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node

    definitions = convert(openapi["components"]["schemas"])
    return {"$ref": f"#/definitions/{name}", "definitions": definitions}


def test_responses_match_the_schema(
    openapi, api_client, make_user, settings, media_root, django_capture_on_commit_callbacks
):
    settings.COLORIA_SYNC_JOBS = True
    api = api_client(make_user("ann"))

    def check(response, status: int, component: str, *, many: bool = False) -> dict:
        assert response.status_code == status, response.content
        schema = _json_schema(openapi, component)
        if many:
            schema = {"type": "array", "items": schema, "definitions": schema["definitions"]}
        jsonschema.validate(response.json(), schema)
        return response.json()

    check(api.get(f"{API}/models"), 200, "ColorModel", many=True)
    with django_capture_on_commit_callbacks(execute=True):
        submitted = api.post(
            f"{API}/jobs",
            {"images": [SimpleUploadedFile("p.png", encode(make_photo()))], "model": "all"},
        )
    job = check(submitted, 202, "Submission")["jobs"][0]
    check(api.get(job["url"]), 200, "Job")
    check(api.get(f"{API}/jobs"), 200, "PaginatedJobList")
    check(api.post(f"{job['url']}/publish"), 200, "Job")
    assert check(api.post(f"{job['url']}/share"), 201, "ShareLink")["share_url"]
    assert check(api.delete(f"{job['url']}/share"), 200, "ShareLink") == {"share_url": None}
    check(api.post(f"{job['url']}/retry"), 409, "Error")
    check(api.post(f"{API}/jobs", {"model": "x"}), 400, "ValidationError")
    check(api_client().get(f"{API}/jobs"), 401, "Error")
    check(api.get(f"{API}/jobs/00000000-0000-0000-0000-000000000000"), 404, "Error")


def test_list_parameters_are_bounded_as_documented(openapi, api_client, make_user):
    """What the schema promises for GET /jobs is what the server enforces."""
    operation = openapi["paths"]["/api/v1/jobs"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["page_size"]["schema"]["minimum"] == 1
    assert parameters["page_size"]["schema"]["maximum"] == 100
    assert "cursor" in parameters["cursor"]["description"]
    assert "cursor" in operation["responses"]["400"]["description"]
    assert parameters["status"]["schema"]["minLength"] == 1

    api = api_client(make_user("ann"))
    for query, field in [("status=", "status"), ("model=", "model"), ("status=lost", "status"),
                         ("page_size=0", "page_size"), ("page_size=101", "page_size"),
                         ("page_size=-5", "page_size"), ("page_size=ten", "page_size"),
                         ("cursor=garbage", "cursor")]:  # fmt: skip
        response = api.get(f"{API}/jobs?{query}")
        assert response.status_code == 400, query
        assert list(response.json()) == [field], query
    assert api.get(f"{API}/jobs?page_size=100&status=queued").status_code == 200


def test_images_must_not_be_empty_as_documented(openapi, api_client, make_user):
    images = openapi["components"]["schemas"]["JobSubmitRequest"]["properties"]["images"]
    assert images["minItems"] == 1
    response = api_client(make_user("ann")).post(f"{API}/jobs", {"model": "zhang-eccv16"})
    assert response.status_code == 400 and "images" in response.json()
