"""Getting package files (Debian .deb, PyPI wheels) and reading members out of them.

Packages are fetched with their ordinary clients, `apt-get download` and `pip download`, so the
machine's own mirrors and proxies apply. Fetching goes through a `Fetcher` so that tests (or an
offline mirror) can serve package files from elsewhere.
"""

from __future__ import annotations

import io
import posixpath
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from ml.data.errors import ArchiveError, FetchError, MissingMemberError

AR_MAGIC = b"!<arch>\n"
MAX_LINK_HOPS = 8


class Fetcher(Protocol):
    def __call__(self, registry: str, package: str, version: str, cache_dir: Path) -> Path:
        """The path of a package file for `package` (a .deb or a .whl), fetched into cache_dir
        unless already there; raises FetchError when it cannot be had."""
        ...


class ClientFetcher:
    """Fetches with apt-get and pip, reusing package files already in the cache folder.

    Debian serves whatever version its lists hold now, which may be newer than the manifest's:
    that is accepted, and the members' SHA-256 decide whether the photos are still the same.
    """

    def __init__(self, timeout_s: float = 1800) -> None:
        self.timeout_s = timeout_s

    def __call__(self, registry: str, package: str, version: str, cache_dir: Path) -> Path:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if registry == "debian":
            return self._fetch(
                cache_dir,
                package,
                lambda: _newest(cache_dir.glob(f"{package}_*.deb")),
                ["apt-get", "download", package],
            )
        if registry == "pypi":
            stem = f"{re.sub(r'[-_.]+', '_', package).lower()}-{version}-"
            return self._fetch(
                cache_dir,
                package,
                lambda: _newest(
                    p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(stem)
                ),
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--disable-pip-version-check", "-d", ".", f"{package}=={version}"],
            )  # fmt: skip
        raise FetchError(f"{package}: unknown registry {registry!r}")

    def _fetch(
        self, cache_dir: Path, package: str, find: Callable[[], Path | None], command: list[str]
    ) -> Path:
        found = find()
        if found is None:
            self._run(command, cache_dir, package)
            found = find()
        if found is None:
            raise FetchError(
                f"{package}: `{' '.join(command)}` left no package file in {cache_dir}"
            )
        return found

    def _run(self, command: list[str], cwd: Path, package: str) -> None:
        shown = " ".join(command)
        try:
            # Fixed commands found on PATH; the package name is one argument, never a shell word.
            done = subprocess.run(  # noqa: S603
                command, cwd=cwd, capture_output=True, text=True, timeout=self.timeout_s
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FetchError(f"{package}: `{shown}` could not run ({exc})") from exc
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.startswith("E:")]
            last = lines or (done.stderr or done.stdout).strip().splitlines() or ["no message"]
            hint = " (run `apt-get update` first?)" if command[0] == "apt-get" else ""
            raise FetchError(f"{package}: `{shown}` failed: {last[-1].strip()}{hint}")


def _newest(paths) -> Path | None:
    return max(paths, key=lambda p: p.stat().st_mtime, default=None)


def served_version(package_file: Path) -> str:
    """The version a package file holds, read from its standard file name."""
    name = package_file.name
    if name.endswith(".deb"):  # name_version_arch.deb, the epoch's ':' written as %3a
        parts = name.removesuffix(".deb").split("_")
        return unquote(parts[1]) if len(parts) == 3 else "unknown"
    if name.endswith(".whl"):  # name-version-tags.whl
        parts = name.split("-")
        return parts[1] if len(parts) >= 5 else "unknown"
    return "unknown"


def read_members(package_file: Path, wanted: set[str]) -> dict[str, bytes]:
    """The bytes of each `wanted` member (a path inside the package, without a leading './').

    Raises MissingMemberError naming those the package does not hold.
    """
    name = package_file.name
    try:
        if name.endswith(".deb"):
            found = _deb_members(package_file, wanted)
        elif name.endswith((".whl", ".zip")):
            found = _zip_members(package_file, wanted)
        else:
            raise ArchiveError(f"{name}: not a .deb or a wheel")
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{name} cannot be read ({exc})") from exc
    missing = sorted(wanted - found.keys())
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise MissingMemberError(f"{name} has no member {missing[0]}{more}")
    return found


def _zip_members(path: Path, wanted: set[str]) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        present = set(archive.namelist())
        return {member: archive.read(member) for member in wanted & present}


# --- Debian packages -------------------------------------------------------------------------


def _ar_entries(blob: bytes, name: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each member of an ar archive (the container of a .deb)."""
    if not blob.startswith(AR_MAGIC):
        raise ArchiveError(f"{name} is not a Debian package (no ar header)")
    at = len(AR_MAGIC)
    while at + 60 <= len(blob):
        header = blob[at : at + 60]  # name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic 2
        if header[58:60] != b"`\n":
            raise ArchiveError(f"{name}: damaged ar header at byte {at}")
        entry = header[:16].decode("ascii", "replace").rstrip().removesuffix("/")
        size = int(header[48:58])
        yield entry, blob[at + 60 : at + 60 + size]
        at += 60 + size + size % 2  # members are padded to an even length


def _deb_members(path: Path, wanted: set[str]) -> dict[str, bytes]:
    for entry, body in _ar_entries(path.read_bytes(), path.name):
        if entry.startswith("data.tar"):
            if entry.endswith(".zst"):
                # Python's tarfile reads zstd only from 3.14 on; dpkg-deb reads it everywhere.
                body = _dpkg_fsys_tarfile(path)
            return _tar_members(lambda body=body: io.BytesIO(body), wanted)
    raise ArchiveError(f"{path.name} has no data.tar member")


def _dpkg_fsys_tarfile(path: Path) -> bytes:
    command = ["dpkg-deb", "--fsys-tarfile", str(path)]  # on every Debian system, like apt-get
    try:
        return subprocess.run(command, capture_output=True, check=True).stdout  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ArchiveError(f"{path.name}: `{' '.join(command)}` failed ({exc})") from exc


def _tar_members(open_stream: Callable[[], io.BytesIO], wanted: set[str]) -> dict[str, bytes]:
    """Wanted files of a (compressed) tar, following links: wallpaper packages link one image
    under several names. Reads the tar as a stream (seeking in xz is slow), twice at most."""
    found: dict[str, bytes] = {}
    links: dict[str, str] = {}  # link path -> the path it points at
    _scan_tar(open_stream(), wanted, found, links)

    final = {member: _follow(member, links) for member in wanted - found.keys()}
    unread = {t for m, t in final.items() if t != m and t not in found}
    if unread:  # links whose targets came before them, or were not wanted themselves
        _scan_tar(open_stream(), unread, found, {})
    for member, target in final.items():
        if target in found:
            found[member] = found[target]
    return {member: found[member] for member in wanted if member in found}


def _scan_tar(
    stream: io.BytesIO, wanted: set[str], found: dict[str, bytes], links: dict[str, str]
) -> None:
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for info in tar:
            path = posixpath.normpath(info.name).lstrip("/")
            if info.issym():
                base = "" if info.linkname.startswith("/") else posixpath.dirname(path)
                links[path] = posixpath.normpath(posixpath.join(base, info.linkname)).lstrip("/")
            elif info.islnk():  # hard links name their target from the archive's root
                links[path] = posixpath.normpath(info.linkname).lstrip("/")
            elif info.isfile() and path in wanted:
                handle = tar.extractfile(info)
                if handle is not None:
                    found[path] = handle.read()


def _follow(path: str, links: dict[str, str]) -> str:
    for _ in range(MAX_LINK_HOPS):
        if path not in links:
            break
        path = links[path]
    return path
