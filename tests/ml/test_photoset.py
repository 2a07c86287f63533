"""The photo-set builder (`python -m ml.data photos`) on local fixtures: a tiny .deb holding a
JPEG, a link to it and a Qt resource bundle, a tiny wheel holding a PNG, and a manifest naming
them, served by a fetcher that copies the files instead of running apt-get or pip."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from ml.data import __main__ as cli
from ml.data import photos as photos_module
from ml.data.errors import (
    ArchiveError,
    ChangedFileError,
    FetchError,
    ManifestError,
    MissingMemberError,
)
from ml.data.manifest import read_manifest
from ml.data.packages import read_members, served_version
from ml.data.photos import build_photo_set, output_names
from ml.data.rcc import RccBundle, write_rcc
from tests.conftest import encode, make_photo

ROOT = Path(__file__).resolve().parents[2]
JPEG = encode(make_photo(40, 30, "RGB", seed=1), "JPEG")
PNG = encode(make_photo(30, 20, "RGB", seed=2), "PNG")
WEBP = encode(make_photo(24, 24, "RGB", seed=3), "WEBP")
# Smooth and uncompressed, so zlib shrinks it: Qt bundles store such data zlib-compressed.
BMP = encode(Image.radial_gradient("L").resize((32, 24)).convert("RGB"), "BMP")
BUNDLE = "usr/share/demo/rcc/animals.rcc"
FISH, SEAL = "demo/images/fish.webp", "demo/images/seal.bmp"  # inside the bundle
HEADER = "split\tregistry\tpackage\tversion\tmember\tsha256\twidth\theight\n"
DEB_NAME = "demo-data_1%3a1.0-2_all.deb"  # newer than the manifest's 1.0-1, with an epoch
WHEEL_NAME = "demo_pics-0.1-py3-none-any.whl"


@pytest.fixture(autouse=True)
def _isolated_ml():
    """Overrides the suite-wide fixture: the builder loads no model, so no weights are made."""
    yield


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_xz(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def ar(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def manifest_line(split, registry, package, version, member, data) -> str:
    return f"{split}\t{registry}\t{package}\t{version}\t{member}\t{sha(data)}\t1\t1\n"


@pytest.fixture
def fx(tmp_path: Path) -> dict:
    """Package files, a manifest naming one member of each kind, and a counting fetcher."""
    served = tmp_path / "served"
    served.mkdir()
    bundle = write_rcc({FISH: WEBP, SEAL: BMP}, True)
    data_tar = tar_xz(
        {"usr/share/demo/photo.jpg": JPEG, BUNDLE: bundle},
        links={"usr/share/demo/wallpapers/1920x1080.jpg": "../photo.jpg"},
    )
    control_tar = tar_xz({"control": b"Package: demo-data\nVersion: 1:1.0-2\n"})
    deb = ar({"debian-binary": b"2.0\n", "control.tar.xz": control_tar, "data.tar.xz": data_tar})
    (served / DEB_NAME).write_bytes(deb)
    with zipfile.ZipFile(served / WHEEL_NAME, "w") as wheel:
        wheel.writestr("demo_pics/data/street.png", PNG)

    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        HEADER
        + manifest_line("train", "debian", "demo-data", "1.0-1", "usr/share/demo/photo.jpg", JPEG)
        + manifest_line(
            "train", "debian", "demo-data", "1.0-1", "usr/share/demo/wallpapers/1920x1080.jpg", JPEG
        )
        + manifest_line("train", "debian", "demo-data", "1.0-1", f"{BUNDLE}!{FISH}", WEBP)
        + manifest_line("train", "debian", "demo-data", "1.0-1", f"{BUNDLE}!{SEAL}", BMP)
        + manifest_line("val", "pypi", "demo-pics", "0.1", "demo_pics/data/street.png", PNG)
    )  # fmt: skip
    calls: list[str] = []

    def fetcher(registry: str, package: str, version: str, cache_dir: Path) -> Path:
        calls.append(package)
        name = {"demo-data": DEB_NAME, "demo-pics": WHEEL_NAME}.get(package)
        if name is None:
            raise FetchError(f"{package}: `apt-get download {package}` failed: no such package")
        cache_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(served / name, cache_dir / name))

    return {"manifest": manifest, "fetcher": fetcher, "calls": calls, "tmp": tmp_path}


def build(fx: dict, **options):
    out = fx["tmp"] / "photos"
    report = build_photo_set(
        fx["manifest"], out, fx["tmp"] / "cache", fx["fetcher"], progress=False, **options
    )
    return out, report


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_builds_both_splits_with_verified_bytes_attribution_and_used_manifest(fx):
    out, report = build(fx)

    assert files_in(out / "train") == {
        "demo-data__photo.jpg": JPEG,
        "demo-data__1920x1080.jpg": JPEG,  # a symbolic link in the package, followed
        "demo-data__fish.webp": WEBP,  # a plain entry of the Qt bundle
        "demo-data__seal.bmp": BMP,  # a zlib-compressed entry of the Qt bundle
    }
    assert files_in(out / "val") == {"demo-pics__street.png": PNG}
    assert (report.written["train"], report.written["val"]) == (4, 1)
    assert report.fetched == ["demo-data", "demo-pics"]

    attribution = (out / "ATTRIBUTION.md").read_text()
    assert "| demo-data | debian | 1.0-1 | 1:1.0-2 | 4 | 0 | Debian main" in attribution
    assert "| demo-pics | pypi | 0.1 | 0.1 | 0 | 1 |" in attribution
    used = (out / "manifest-used.tsv").read_text().splitlines()
    assert used[0].endswith("\tfile\tserved_version") and len(used) == 6
    assert "val/demo-pics__street.png\t0.1" in used[-1]


def test_a_second_build_fetches_nothing_and_a_damaged_photo_refetches_its_package_only(fx):
    out, _ = build(fx)
    _, again = build(fx)
    assert fx["calls"] == ["demo-data", "demo-pics"]  # no new fetch
    assert not again.written and (again.present["train"], again.present["val"]) == (4, 1)
    assert "| 1:1.0-2 |" in (out / "ATTRIBUTION.md").read_text()  # served version remembered

    (out / "val" / "demo-pics__street.png").write_bytes(b"damaged")
    _, third = build(fx)
    assert fx["calls"][2:] == ["demo-pics"]
    assert third.written["val"] == 1 and files_in(out / "val") == {"demo-pics__street.png": PNG}


def test_one_split_can_be_built_and_attribution_covers_what_is_in_place(fx):
    out, report = build(fx, splits=("val",))
    assert fx["calls"] == ["demo-pics"] and not (out / "train").exists()
    assert report.written["val"] == 1
    build(fx, splits=("train",))
    assert "| demo-pics | pypi | 0.1 | 0.1 | 0 | 1 |" in (out / "ATTRIBUTION.md").read_text()


def test_a_changed_file_is_refused_with_both_hashes_and_nothing_is_written(fx):
    text = fx["manifest"].read_text()
    fx["manifest"].write_text(text.replace(sha(PNG), "0" * 64))
    with pytest.raises(ChangedFileError) as caught:
        build(fx)
    message = str(caught.value)
    for part in ("demo-pics", "demo_pics/data/street.png", "0" * 64, sha(PNG), "line 6"):
        assert part in message
    assert files_in(fx["tmp"] / "photos" / "val") == {}  # no partial or temporary file either


def test_missing_members_are_named(fx):
    text = fx["manifest"].read_text()
    fx["manifest"].write_text(text.replace("street.png", "road.png"))
    with pytest.raises(MissingMemberError, match=r"demo_pics-0\.1.*road\.png"):
        build(fx, splits=("val",))
    fx["manifest"].write_text(text.replace("fish.webp", "cat.webp"))
    with pytest.raises(MissingMemberError, match=r"animals\.rcc in demo-data.*cat\.webp"):
        build(fx)


def test_a_package_that_cannot_be_fetched_stops_the_build(fx):
    text = fx["manifest"].read_text()
    fx["manifest"].write_text(text + manifest_line("val", "debian", "no-such", "1", "x.jpg", PNG))
    with pytest.raises(FetchError, match="no-such"):
        build(fx)


def test_the_cli_prints_one_error_line_and_exits_2(fx, monkeypatch, capsys):
    failing = fx["fetcher"]
    monkeypatch.setattr(photos_module, "ClientFetcher", lambda: failing)
    text = fx["manifest"].read_text()
    fx["manifest"].write_text(text + manifest_line("val", "debian", "no-such", "1", "x.jpg", PNG))
    args = ["photos", "--manifest", str(fx["manifest"]), "--out", str(fx["tmp"] / "o"), "--quiet"]
    assert cli.main([*args, "--cache", str(fx["tmp"] / "c")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: no-such: `apt-get download no-such` failed") and err.count("\n") == 1
    )

    fx["manifest"].write_text(text)
    assert cli.main([*args, "--cache", str(fx["tmp"] / "c"), "--split", "val"]) == 0
    assert "val: 1 photos (1 written, 0 already present)" in capsys.readouterr().out


def test_the_cli_explains_an_out_folder_that_is_a_file(fx, monkeypatch, capsys):
    monkeypatch.setattr(photos_module, "ClientFetcher", lambda: fx["fetcher"])
    (fx["tmp"] / "photos.txt").write_text("kept")
    args = ["photos", "--manifest", str(fx["manifest"]), "--out", str(fx["tmp"] / "photos.txt")]
    assert cli.main([*args, "--cache", str(fx["tmp"] / "c"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "photos.txt" in err and "Not a directory" in err
    assert (fx["tmp"] / "photos.txt").read_text() == "kept"


def test_the_cli_refuses_a_malformed_manifest_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(HEADER + "test\tdebian\tx\t1\ty\t" + "0" * 64 + "\t1\t1\n")
    done = subprocess.run(
        [sys.executable, "-m", "ml.data", "photos", "--manifest", str(bad), "--out",
         str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "line 2: split 'test'" in done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "empty"),
        ("split\tpackage\n", "lacks the column(s): registry, version, member, sha256, width"),
        (HEADER + "train\tapt\tx\t1\ty\t" + "0" * 64 + "\t1\t1\n", "line 2: registry 'apt'"),
        (HEADER + "train\tdebian\tx\t1\ty\tABC\t1\t1\n", "line 2: sha256 must be"),
        (HEADER + "train\tdebian\tx\t1\ty\t" + "0" * 64 + "\twide\t1\n", "line 2: width"),
        (HEADER + "train\tdebian\tx\t1\n", "line 2: 4 fields, 8 needed"),
        (
            HEADER + ("train\tdebian\tx\t1\ty\t" + "0" * 64 + "\t1\t1\n") * 2,
            "line 3: repeats line 2",
        ),
    ],
)
def test_malformed_manifests_are_refused_with_the_line(tmp_path, body, problem):
    path = tmp_path / "m.tsv"
    path.write_text(body)
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert problem in str(caught.value)


def test_the_shipped_manifest_parses_and_gives_distinct_readable_names():
    rows = read_manifest(ROOT / "ml/data/photos-v1.tsv")
    assert len(rows) == 589 and sum(row.split == "val" for row in rows) == 100
    names = output_names(rows)
    assert len(set(names.values())) == 589
    by_member = {row.member.rsplit("/", 1)[-1]: names[row] for row in rows}
    assert by_member["alphabets.webp"] == "gcompris-qt-data__alphabets.webp"


def test_served_versions_are_read_from_standard_file_names():
    assert served_version(Path("tuxpaint-data_1%3a0.9.28-sdl2-1_all.deb")) == "1:0.9.28-sdl2-1"
    assert served_version(Path("ai_benchmark-0.1.2-py3-none-any.whl")) == "0.1.2"


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_a_zstd_debian_package_is_read_through_dpkg_deb(tmp_path):
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: demo-zst\nVersion: 1.0\nArchitecture: all\nMaintainer: A <a@example.org>\n"
        "Description: test\n"
    )
    (root / "usr/share/demo").mkdir(parents=True)
    (root / "usr/share/demo/photo.jpg").write_bytes(JPEG)
    deb = tmp_path / "demo-zst_1.0_all.deb"
    subprocess.run(
        ["dpkg-deb", "-Zzstd", "--root-owner-group", "--build", str(root), str(deb)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert read_members(deb, {"usr/share/demo/photo.jpg"}) == {"usr/share/demo/photo.jpg": JPEG}


def test_something_that_is_not_a_package_is_refused(tmp_path):
    fake = tmp_path / "fake_1.0_all.deb"
    fake.write_bytes(b"not an ar archive")
    with pytest.raises(ArchiveError, match="not a Debian package"):
        read_members(fake, {"x"})


# --- Qt resource bundles ---------------------------------------------------------------------

FILES = {"a/b/one.webp": WEBP, "a/two.bmp": BMP, "three.jpg": JPEG}


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("compress", [True, False])
def test_rcc_bundles_round_trip(version, compress):
    blob = write_rcc(FILES, compress, version=version)
    bundle = RccBundle(blob)
    assert bundle.version == version
    assert bundle.files() == sorted(FILES)
    assert {path: bundle.read(path) for path in FILES} == FILES
    # Only data that shrinks is compressed, as Qt's rcc does.
    assert bundle.entries["a/two.bmp"].compression == ("zlib" if compress else None)
    assert bundle.entries["a/b/one.webp"].compression is None


@pytest.mark.parametrize(("version", "node_size"), [(1, 14), (3, 22)])
def test_rcc_tree_nodes_have_the_size_of_their_format_version(version, node_size):
    blob = write_rcc(FILES, False, version=version)
    _, tree, data, _ = struct.unpack_from(">4I", blob, 4)
    nodes = 1 + 2 + 3  # root; a/ and three.jpg; b/ and two.bmp; one.webp
    assert data - tree == nodes * node_size
    assert tree == (24 if version >= 3 else 20)  # version 3 adds a word of flags to the header


def test_rcc_zstd_entries_need_the_zstandard_module(monkeypatch):
    blob = bytearray(write_rcc({"photo.jpg": JPEG}, False, version=2))
    _, tree, _, _ = struct.unpack_from(">4I", blob, 4)
    struct.pack_into(">H", blob, tree + 22 + 4, 4)  # the file node (after the root): zstd flag
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    bundle = RccBundle(bytes(blob), "demo.rcc")
    with pytest.raises(ArchiveError, match=r"demo\.rcc: photo\.jpg is zstd-compressed.*zstandard"):
        bundle.read("photo.jpg")


def test_rcc_errors_name_the_bundle():
    with pytest.raises(ArchiveError, match=r"x\.rcc is not a Qt resource bundle"):
        RccBundle(b"PK\x03\x04" + bytes(30), "x.rcc")
    with pytest.raises(ArchiveError, match=r"y\.rcc is truncated or damaged"):
        RccBundle(write_rcc(FILES, True)[:40], "y.rcc")
    with pytest.raises(MissingMemberError, match=r"z\.rcc has no resource a/none\.jpg"):
        RccBundle(write_rcc(FILES, True), "z.rcc").read("a/none.jpg")


def test_v2_adds_training_photos_and_keeps_v1_as_it_is():
    """The validation split of every figure stays v1's; v2 only adds training photos."""
    v1 = read_manifest(ROOT / "ml/data/photos-v1.tsv")
    v2 = read_manifest(ROOT / "ml/data/photos-v2.tsv")
    key = lambda row: (row.split, row.package, row.member, row.sha256)  # noqa: E731
    assert {key(r) for r in v1} < {key(r) for r in v2}
    added = [r for r in v2 if key(r) not in {key(r) for r in v1}]
    assert len(added) == 7 and all(row.split == "train" for row in added)
    assert {row.package for row in added} == {
        "scikit-image", "matplotlib", "plasma-workspace-wallpapers",
    }  # fmt: skip
    assert len(set(output_names(v2).values())) == len(v2)
    from ml.data.photos import DEFAULT_MANIFEST

    assert DEFAULT_MANIFEST.name == "photos-v2.tsv"
