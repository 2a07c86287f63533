"""The weights manager against a real HTTP server started by the test.

The server serves generated files and can misbehave on purpose: a wrong file, a transfer cut
off half-way, a 404. Downloads must verify, resume and fail with messages a person can act on.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ml import weights
from ml.errors import WeightsFetchError
from ml.weights import KNOWN_WEIGHTS, WeightFile, install

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, so that a download takes several reads


class FileServer(http.server.ThreadingHTTPServer):
    """Serves `files` (path -> bytes). `cut_after[path] = n` sends n bytes then hangs up."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        ranged = self.headers.get("Range")
        if ranged and ranged.startswith("bytes="):
            start = int(ranged[6:].split("-")[0])
            if start >= len(body):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut = self.server.cut_after.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[start : start + cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def entry(server, tmp_path, monkeypatch):
    """A registered official weights file served by the test server."""
    from ml import config

    monkeypatch.setattr(config, "settings", config.MLSettings(weights_dir=tmp_path / "weights"))
    server.files["/test-net.pth"] = PAYLOAD
    item = WeightFile(
        key="test-net",
        filename="test-net-0123.pth",
        network="test",
        licence="MIT",
        urls=(server.url("/test-net.pth"),),
        size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
    )
    KNOWN_WEIGHTS[item.key] = item
    yield item
    KNOWN_WEIGHTS.pop(item.key, None)


def test_fetch_downloads_verifies_and_installs(entry, server, tmp_path):
    reports = []
    path = install.fetch("test-net", progress=lambda done, total: reports.append((done, total)))
    assert path == tmp_path / "weights" / "test-net-0123.pth"
    assert path.read_bytes() == PAYLOAD
    assert not list(path.parent.glob("*.part"))
    assert reports[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert weights.is_installed("test-net")
    # Installed and verified: a second fetch does not download again.
    install.fetch("test-net")
    assert len(server.requests) == 1


def test_a_file_with_the_wrong_hash_is_discarded(entry, server, tmp_path):
    server.files["/test-net.pth"] = b"<html>not the weights</html>"
    with pytest.raises(WeightsFetchError, match="wrong SHA-256"):
        install.fetch("test-net")
    assert not any((tmp_path / "weights").iterdir())  # neither the file nor a .part


def test_an_interrupted_download_is_resumed(entry, server, tmp_path):
    server.cut_after["/test-net.pth"] = 300_000
    with pytest.raises(WeightsFetchError, match="run the same command again"):
        install.fetch("test-net")
    partial = tmp_path / "weights" / "test-net-0123.pth.part"
    assert partial.stat().st_size == 300_000
    assert not weights.is_installed("test-net")

    path = install.fetch("test-net")
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/test-net.pth", "bytes=300000-")
    assert not partial.exists()


def test_not_found_and_no_network_are_reported(entry, server, tmp_path):
    KNOWN_WEIGHTS["test-net"] = WeightFile(**{**entry.__dict__, "urls": (server.url("/gone"),)})
    with pytest.raises(WeightsFetchError, match="HTTP 404"):
        install.fetch("test-net")

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    KNOWN_WEIGHTS["test-net"] = WeightFile(
        **{**entry.__dict__, "urls": (f"http://127.0.0.1:{port}/x.pth",)}
    )
    with pytest.raises(WeightsFetchError, match="Cannot reach"):
        install.fetch("test-net")
    assert not weights.is_installed("test-net")


def test_a_second_address_is_tried_when_the_first_fails(entry, server):
    KNOWN_WEIGHTS["test-net"] = WeightFile(
        **{**entry.__dict__, "urls": (server.url("/gone"), server.url("/test-net.pth"))}
    )
    assert install.fetch("test-net").read_bytes() == PAYLOAD


def test_unknown_keys_and_own_trained_weights_cannot_be_fetched():
    with pytest.raises(WeightsFetchError, match="Unknown weights 'nope'"):
        install.fetch("nope")
    with pytest.raises(WeightsFetchError, match="no download address"):
        install.fetch("cnn-coloria")


@pytest.mark.django_db
def test_manage_fetch_weights(entry, server, tmp_path):
    from django.core.management import CommandError, call_command

    from ml import config

    out = _Capture()
    call_command("fetch_weights", "test-net", "--quiet", stdout=out)
    assert "test-net: installed" in out.text
    assert (config.settings.weights_dir / "test-net-0123.pth").read_bytes() == PAYLOAD

    server.files.clear()
    (config.settings.weights_dir / "test-net-0123.pth").unlink()
    out = _Capture()
    with pytest.raises(CommandError, match="1 download"):
        call_command("fetch_weights", "test-net", "--quiet", stdout=out)
    assert "HTTP 404" in out.text


def test_import_checks_the_hash_of_official_files(entry, tmp_path):
    good = tmp_path / "downloaded.pth"
    good.write_bytes(PAYLOAD)
    bad = tmp_path / "other.pth"
    bad.write_bytes(PAYLOAD[:-1])
    with pytest.raises(WeightsFetchError, match="its SHA-256 is"):
        install.import_file(bad, "test-net")
    assert not weights.is_installed("test-net")
    assert install.import_file(good, "test-net").read_bytes() == PAYLOAD


def test_import_loads_own_trained_files_into_their_network(tmp_path, monkeypatch):
    """Own-trained files have no published hash: they must load into the network instead."""
    import torch

    from ml import config
    from ml.models.zhang import ECCV16
    from ml.registry import _REGISTRY, ModelSpec

    monkeypatch.setattr(config, "settings", config.MLSettings(weights_dir=tmp_path / "weights"))
    KNOWN_WEIGHTS["test-own"] = WeightFile(
        key="test-own", filename="test-own.pth", network="zhang-eccv16", licence="MIT",
        official=False,
    )  # fmt: skip
    _REGISTRY["test-own"] = ModelSpec(
        key="test-own", family="zhang", name="Test own", hint="", description="",
        predictor="ml.models.zhang:ZhangPredictor", weights="test-own",
        options={"network": "eccv16", "width": 0.25},
    )  # fmt: skip
    try:
        fits = tmp_path / "fits.pth"
        torch.save(ECCV16(0.25).state_dict(), fits)
        wrong = tmp_path / "wrong.pth"
        torch.save(ECCV16(0.5).state_dict(), wrong)
        with pytest.raises(WeightsFetchError, match="cannot be used for Test own"):
            install.import_file(wrong, "test-own")
        assert install.import_file(fits, "test-own").is_file()
    finally:
        KNOWN_WEIGHTS.pop("test-own")
        _REGISTRY.pop("test-own")


def test_cli_lists_and_reports_errors(tmp_path):
    env = {"COLORIA_WEIGHTS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(
        [sys.executable, "-m", "ml.weights", "list"], cwd=root, env=env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "zhang-eccv16" in listed.stdout and "not installed" in listed.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "ml.weights", "import", str(tmp_path / "nope.pth"),
         "--model", "zhang-eccv16"],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "is not a file" in missing.stderr


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_install_commands_fit_the_kind_of_weights():
    assert weights.install_command("zhang-eccv16") == "python manage.py fetch_weights zhang-eccv16"
    assert weights.install_command("cnn-coloria") == (
        "python manage.py import_weights cnn-coloria.keras --model cnn-coloria"
    )


@pytest.fixture
def deoldify_served(server, tmp_path, monkeypatch, deoldify_weights_dir):
    """DeOldify Artistic (random weights in the official layout) served by the test server; the
    official entry, which has no published checksum, pointed at it."""
    import dataclasses

    from ml import config

    monkeypatch.setattr(config, "settings", config.MLSettings(weights_dir=tmp_path / "weights"))
    official = weights.known("deoldify-artistic")
    server.files["/gen.pth"] = (deoldify_weights_dir / official.filename).read_bytes()
    server.files["/preview"] = b"<!DOCTYPE html><html>Sign in to download</html>"

    def serve_from(*paths: str) -> None:
        entry = dataclasses.replace(official, urls=tuple(server.url(p) for p in paths))
        monkeypatch.setitem(KNOWN_WEIGHTS, official.key, entry)

    return serve_from


def test_a_file_without_published_checksum_must_load_into_its_network(deoldify_served, tmp_path):
    deoldify_served("/preview")
    with pytest.raises(WeightsFetchError, match="not usable and was discarded"):
        install.fetch("deoldify-artistic")
    assert not any((tmp_path / "weights").iterdir())


def test_the_next_address_is_tried_when_a_download_does_not_load(deoldify_served, server, tmp_path):
    import io

    deoldify_served("/preview", "/gen.pth")
    out = io.StringIO()
    assert install.fetch_many(["deoldify-artistic"], out=out, progress=False) == 0
    installed = tmp_path / "weights" / "ColorizeArtistic_gen.pth"
    assert installed.read_bytes() == server.files["/gen.pth"]
    digest = hashlib.sha256(server.files["/gen.pth"]).hexdigest()
    assert f"no published checksum: checked by loading it; SHA-256 {digest}" in out.getvalue()


def test_bigcolor_averaged_weights_fetch_their_full_checkpoint_first(
    server, tmp_path, monkeypatch, bigcolor_weights_dir
):
    """fetch_weights bigcolor-ema downloads EG_011.ckpt, then EG_EMA_011.ckpt; neither has a
    published checksum, so each must load (the averaged one on top of the full one), and a page
    served instead of a file is discarded."""
    import dataclasses
    import io

    from ml import config, registry
    from tests.conftest import BIGCOLOR_TINY

    monkeypatch.setattr(config, "settings", config.MLSettings(weights_dir=tmp_path / "weights"))
    spec = registry.get_spec("bigcolor")
    tiny = dataclasses.replace(spec, options={**spec.options, **BIGCOLOR_TINY})
    monkeypatch.setitem(registry._REGISTRY, "bigcolor", tiny)
    for key, path in (("bigcolor", "/EG_011.ckpt"), ("bigcolor-ema", "/EG_EMA_011.ckpt")):
        entry = weights.known(key)
        server.files[path] = (bigcolor_weights_dir / entry.filename).read_bytes()
        urls = (server.url("/page"), server.url(path))
        monkeypatch.setitem(KNOWN_WEIGHTS, key, dataclasses.replace(entry, urls=urls))
    server.files["/page"] = b"<!DOCTYPE html><html>Google Drive can't scan this file</html>"

    out = io.StringIO()
    assert install.fetch_many(["bigcolor-ema"], out=out, progress=False) == 0
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "EG_011.ckpt",
        "EG_EMA_011.ckpt",
    ]
    assert weights.is_installed("bigcolor-ema")
    assert [path for path, _ in server.requests] == [
        "/page",
        "/EG_011.ckpt",
        "/page",
        "/EG_EMA_011.ckpt",
    ]
