"""/healthz and /readyz: JSON, unauthenticated, answered for a load balancer's plain-HTTP probe
with any Host; /readyz says which of database, broker and worker is not ready."""

from __future__ import annotations

import socket

import pytest
from django.core.cache import caches
from django_q.conf import Conf

from coloria_site import health
from tests.web.cluster import Cluster, wait_for


@pytest.fixture
def no_worker_seen():
    """Forget any worker a previous test's cluster left in the status cache."""
    cache = caches[Conf.CACHE]
    cache.delete(health.WORKER_SEEN_KEY)
    yield
    cache.delete(health.WORKER_SEEN_KEY)


def test_healthz_answers_a_plain_http_probe_with_any_host(client, settings):
    # Production: HTTPS redirect on, and the probe uses the machine's address as its Host.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["coloria.example"]
    response = client.get("/healthz", headers={"Host": "10.0.0.7:8000"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response
    # Other paths keep both protections.
    assert client.get("/", headers={"Host": "coloria.example"}).status_code == 301
    assert client.get("/", headers={"Host": "10.0.0.7:8000"}, secure=True).status_code == 400


def test_healthz_needs_no_database(client, django_db_blocker):
    with django_db_blocker.block():  # any query would raise
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_health_paths_take_get_only(client):
    response = client.post("/healthz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_worker_when_none_runs(client, no_worker_seen, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/readyz", headers={"Host": "10.0.0.7"})
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert "no worker seen within 60 seconds" in body["checks"]["worker"]["error"]


@pytest.mark.django_db
def test_readyz_remembers_a_worker_for_the_configured_seconds(
    client, no_worker_seen, settings, monkeypatch
):
    # A worker seen 30 s ago (being recycled now) keeps the site ready for 60 s, not for 20.
    now = health.time.time()
    caches[Conf.CACHE].set(health.WORKER_SEEN_KEY, now - 30, None)
    assert client.get("/readyz").status_code == 200
    settings.COLORIA_READY_WORKER_SECONDS = 20
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["seen_seconds_ago"] >= 30


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_broker_when_redis_is_unreachable(client, monkeypatch):
    # The broker as django-q2 builds it from Q_CLUSTER (its Conf is read once, at import).
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{_closed_port()}/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["failed"] and "database" not in body["failed"]
    assert "the queue broker does not answer" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"]


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_database_when_it_fails(client, monkeypatch):
    def broken() -> str:
        return "the database does not answer (OperationalError)"

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failed"]


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_readyz_is_200_while_a_real_worker_runs(client, no_worker_seen, settings, tmp_path):
    settings.COLORIA_READY_WORKER_SECONDS = 1
    # With Redis, the status of an earlier test's killed worker lingers until it expires.
    wait_for(lambda: client.get("/readyz").status_code == 503, 30, "readyz before a worker", [])
    # Cluster status is signed with the secret key: the worker must have this process's.
    cluster = Cluster(
        tmp_path / "qcluster.log", COLORIA_WORKERS="1", COLORIA_SECRET_KEY=settings.SECRET_KEY
    )
    try:
        wait_for(
            lambda: client.get("/readyz").status_code == 200,
            90,
            "readyz with a running qcluster",
            [cluster],
        )
        body = client.get("/readyz").json()
        assert body["status"] == "ok" and body["failed"] == []
        assert body["checks"]["worker"] == {"ok": True, "seen_seconds_ago": 0.0}
    finally:
        cluster.stop()  # killed: it cannot say goodbye
    # Gone: within a few seconds its status expires, then the remembered second runs out.
    wait_for(lambda: client.get("/readyz").status_code == 503, 30, "readyz after the worker")
