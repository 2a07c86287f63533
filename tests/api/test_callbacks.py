"""Job callbacks, delivered to a local HTTP server that the test starts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from colorize import callbacks
from colorize.models import Batch
from tests.conftest import encode, make_photo

pytestmark = pytest.mark.django_db

API = "/api/v1"


class Receiver:
    """A local HTTP server that records POSTs and answers with the statuses it is given."""

    def __init__(self, answers: list[int]) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                status = answers.pop(0) if answers else 200
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?from=coloria"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.COLORIA_CALLBACK_ALLOW_PRIVATE = True  # the local server is http on loopback
    made: list[Receiver] = []

    def make(*answers: int) -> Receiver:
        made.append(Receiver(list(answers)))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(callbacks, "BACKOFF_SECONDS", (0.0, 0.0))


@pytest.fixture
def api(api_client, make_user, settings, media_root):
    settings.COLORIA_SYNC_JOBS = True
    return api_client(make_user("ann"))


def submit(api, callback_url: str, capture):
    with capture(execute=True):
        return api.post(
            f"{API}/jobs",
            {
                "images": [SimpleUploadedFile("p.png", encode(make_photo()))],
                "model": "zhang-eccv16",
                "callback_url": callback_url,
            },
        )


def test_a_finished_job_posts_its_signed_status(api, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    response = submit(api, server.url, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job_id = response.json()["jobs"][0]["id"]

    ((path, headers, body),) = server.requests
    assert path == "/hook?from=coloria"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["id"] == job_id and sent["status"] == "succeeded"
    assert sent == api.get(f"{API}/jobs/{job_id}").json() | {
        key: sent[key] for key in ("url", "web_url", "original_url", "result_url")
    }  # the job JSON (its links are paths here: no COLORIA_SITE_URL in the tests)

    secret = api.get(f"{API}/callback-secret").json()["secret"]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers[callbacks.SIGNATURE_HEADER] == expected


def test_callback_secrets_differ_per_user(api, api_client, make_user):
    other = api_client(make_user("bob")).get(f"{API}/callback-secret").json()["secret"]
    assert other != api.get(f"{API}/callback-secret").json()["secret"]


def test_server_errors_are_retried_a_bounded_number_of_times(
    api, receiver, no_backoff, django_capture_on_commit_callbacks
):
    flaky = receiver(500, 503)
    submit(api, flaky.url, django_capture_on_commit_callbacks)
    assert len(flaky.requests) == 3  # two failures, then delivered

    down = receiver(500, 500, 500, 500)
    job = submit(api, down.url, django_capture_on_commit_callbacks).json()["jobs"][0]
    assert len(down.requests) == 3  # gave up; the job itself is unaffected
    assert api.get(job["url"]).json()["status"] == "succeeded"


@pytest.mark.parametrize("answer", [302, 404])
def test_redirects_and_client_errors_are_not_followed_or_retried(
    api, receiver, no_backoff, django_capture_on_commit_callbacks, answer
):
    server = receiver(answer)
    submit(api, server.url, django_capture_on_commit_callbacks)
    assert [path for path, _, _ in server.requests] == ["/hook?from=coloria"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",  # not https
        "https://127.0.0.1/hook",  # loopback
        "https://localhost/hook",
        "https://10.1.2.3/hook",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://[::1]/hook",
        "https://user:pw@203.0.113.5/hook",  # credentials
    ],
)
def test_private_or_plain_targets_are_refused_at_submit(api, url):
    response = api.post(
        f"{API}/jobs",
        {
            "images": [SimpleUploadedFile("p.png", encode(make_photo()))],
            "model": "zhang-eccv16",
            "callback_url": url,
        },
    )
    assert response.status_code == 400
    assert set(response.json()) == {"callback_url"}
    assert not Batch.objects.exists()


def test_a_public_https_target_is_accepted(settings):
    assert callbacks.resolve_target("https://8.8.8.8/hook") == "8.8.8.8"


def test_a_job_lost_by_its_worker_calls_back_failed(
    api, receiver, django_capture_on_commit_callbacks
):
    from types import SimpleNamespace

    from colorize import tasks
    from colorize.models import Job

    server = receiver()
    with django_capture_on_commit_callbacks(execute=False):  # queued; no worker takes it
        response = api.post(
            f"{API}/jobs",
            {
                "images": [SimpleUploadedFile("p.png", encode(make_photo()))],
                "model": "zhang-eccv16",
                "callback_url": server.url,
            },
        )
    job_id = response.json()["jobs"][0]["id"]
    Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.job_task_finished(SimpleNamespace(success=False, args=[job_id]))
    ((_, _, body),) = server.requests
    assert json.loads(body)["status"] == "failed"
