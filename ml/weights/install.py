"""Installing weight files: downloading official checkpoints (resumable, verified against their
SHA-256 or, where none is published, by loading them) and importing local files."""

from __future__ import annotations

import errno
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ml import config
from ml.errors import ColorizeError, WeightsFetchError
from ml.weights import (
    KNOWN_WEIGHTS,
    WeightFile,
    install_command,
    is_installed,
    known,
    sha256_of,
    weights_path,
)

# --- Downloading ------------------------------------------------------------------------------

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def fetch(
    key: str,
    *,
    dest_dir: Path | None = None,
    progress: Progress | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the weights `key` into the weights directory and return the installed path.

    A partial download is kept as `<file>.part` and resumed with an HTTP Range request next time.
    The file is renamed into place only after its SHA-256 matched, so an interrupted or corrupted
    transfer never looks installed. Already-installed, verified files are not downloaded again.
    """
    entry = known(key)
    if not entry.urls:
        raise WeightsFetchError(
            f"{key} has no download address: it is trained by Coloria and ships with it "
            f"(or train it with python -m ml.train)."
        )
    for required in entry.requires:
        fetch(required, dest_dir=dest_dir, progress=progress, timeout=timeout)
    dest_dir = Path(dest_dir or config.settings.weights_dir)
    target = dest_dir / entry.filename
    if target.is_file() and (entry.sha256 is None or sha256_of(target) == entry.sha256):
        return target
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsFetchError(f"Cannot create the weights directory {dest_dir}: {exc}") from exc
    partial = target.with_name(target.name + ".part")
    failures = []
    for url in entry.urls:
        try:
            _download(url, partial, expected_size=entry.size, progress=progress, timeout=timeout)
            _verify_and_install(entry, partial, target)
        except WeightsFetchError as exc:
            failures.append(str(exc))
            continue
        return target
    raise WeightsFetchError(" ".join(failures))


def _download(
    url: str, partial: Path, *, expected_size: int | None, progress: Progress | None, timeout: float
) -> None:
    have = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and have > expected_size:
        partial.unlink()  # longer than the real file: it cannot be a prefix of it
        have = 0
    if expected_size is not None and have == expected_size:
        return
    if not url.startswith(("https://", "http://")):
        raise WeightsFetchError(f"Refusing to download from {url}: only http(s) addresses.")
    request = urllib.request.Request(url, headers={"User-Agent": "coloria-weights/1"})  # noqa: S310
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part file is complete
            return
        raise WeightsFetchError(f"Download of {url} failed: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsFetchError(
            f"Cannot reach {url} ({reason}). Is this machine connected to the internet? "
            f"Fetch on a machine that is, then copy the file and use import_weights."
        ) from exc
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0  # the server ignored the Range header: start again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else expected_size
        have = _stream(response, partial, url, have=have, append=bool(resumed),
                       total=total, progress=progress)  # fmt: skip
    if total is not None and have < total:
        raise WeightsFetchError(
            f"Download of {url} stopped after {have} of {total} bytes; run the same command "
            f"again to resume it."
        )


def _stream(
    response, partial: Path, url: str, *, have: int, append: bool, total: int | None,
    progress: Progress | None,
) -> int:  # fmt: skip
    """Write the response body to the part file; returns the bytes it then holds."""
    try:
        with open(partial, "ab" if append else "wb") as out:
            while block := response.read(1 << 16):
                out.write(block)
                have += len(block)
                if progress:
                    progress(have, total)
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        TimeoutError,
        ConnectionError,
    ) as exc:
        raise WeightsFetchError(
            f"Download of {url} was interrupted after {have} bytes ({exc}); run the same "
            f"command again to resume it."
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise WeightsFetchError(
                f"The disk holding {partial.parent} is full after {have} bytes of "
                f"{partial.name[: -len('.part')]}; free some space and run the command again "
                f"to resume."
            ) from exc
        raise WeightsFetchError(f"Cannot write {partial}: {exc}") from exc
    return have


def _verify_and_install(entry: WeightFile, candidate: Path, target: Path) -> None:
    if entry.sha256 is None and entry.sha256_prefix:
        actual = sha256_of(candidate)
        if not actual.startswith(entry.sha256_prefix):
            candidate.unlink(missing_ok=True)
            raise WeightsFetchError(
                f"{entry.filename} has the wrong SHA-256 ({actual}, expected "
                f"{entry.sha256_prefix}…); the file was discarded."
            )
    elif entry.sha256 is None:
        # Some projects (DeOldify) publish no checksum: the file must at least load into its
        # network, which rules out truncated files and error pages served as downloads.
        try:
            _check_loads(entry, candidate)
        except WeightsFetchError as exc:
            candidate.unlink(missing_ok=True)
            raise WeightsFetchError(
                f"The downloaded {entry.filename} is not usable and was discarded: {exc}"
            ) from exc
    else:
        actual = sha256_of(candidate)
        if actual != entry.sha256:
            candidate.unlink(missing_ok=True)  # a bad file must not be resumed next time
            raise WeightsFetchError(
                f"{entry.filename} has the wrong SHA-256 ({actual}, expected {entry.sha256}); "
                f"the file was discarded. The server may have sent an error page or a "
                f"different file."
            )
    os.replace(candidate, target)


# --- Importing local files -----------------------------------------------------------------


def import_file(path: Path | str, key: str, *, dest_dir: Path | None = None) -> Path:
    """Install a local weights file as `key`: official files must match their SHA-256,
    own-trained ones must load into their network. Returns the installed path."""
    entry = known(key)
    source = Path(path)
    if not source.is_file():
        raise WeightsFetchError(f"{source} is not a file.")
    missing = [required for required in entry.requires if not is_installed(required)]
    if missing:
        raise WeightsFetchError(
            f"{entry.filename} needs {', '.join(missing)} installed first: "
            + "; ".join(install_command(required) for required in missing)
            + "."
        )
    expected = entry.sha256 or entry.sha256_prefix
    if expected is not None:
        actual = sha256_of(source)
        if not actual.startswith(expected):
            raise WeightsFetchError(
                f"{source.name} is not {entry.filename}: its SHA-256 is {actual}, "
                f"expected {expected}{'' if entry.sha256 else '…'}."
            )
    else:
        _check_loads(entry, source)
    dest_dir = Path(dest_dir or config.settings.weights_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / entry.filename
    staging = target.with_name(target.name + ".importing")
    shutil.copyfile(source, staging)
    os.replace(staging, target)
    return target


def _check_loads(entry: WeightFile, source: Path) -> None:
    """Load the file with every model that uses these weights (a training file: with its own
    loader); a WeightsInvalid says why not."""
    import importlib

    from ml.registry import all_specs

    if entry.loader:
        module_name, _, function_name = entry.loader.partition(":")
        check = getattr(importlib.import_module(module_name), function_name)
        try:
            check(source)
        except ColorizeError as exc:
            raise WeightsFetchError(f"{source.name} is not {entry.filename}: {exc}") from exc
        return
    specs = [spec for spec in all_specs() if spec.weights == entry.key]
    # A file that only completes another (BigColor's full checkpoint under its averaged weights)
    # is checked with the models of the file it completes; it loads on its own.
    specs = specs or [
        spec for spec in all_specs() if spec.weights and entry.key in known(spec.weights).requires
    ]
    if not specs:
        raise WeightsFetchError(f"No model uses the weights {entry.key}.")
    for spec in specs:
        module_name, _, class_name = spec.predictor.partition(":")
        predictor_class = getattr(importlib.import_module(module_name), class_name)
        try:
            predictor_class(source, "cpu", **spec.options)
        except ColorizeError as exc:
            raise WeightsFetchError(f"{source.name} cannot be used for {spec.name}: {exc}") from exc


# --- Listing and fetching many -----------------------------------------------------------


def describe() -> list[dict]:
    """One row per known weights file: key, file, kind, installed path, size, licence."""
    rows = []
    for entry in sorted(KNOWN_WEIGHTS.values(), key=lambda e: e.key):
        path = weights_path(entry.key)
        rows.append(
            {
                "key": entry.key,
                "file": entry.filename,
                "kind": "training"
                if entry.purpose == "training"
                else ("official" if entry.official else "own-trained"),
                "installed": str(path) if path else None,
                "size": entry.size,
                "licence": entry.licence,
            }
        )
    return rows


class _Bar:
    """A tqdm progress bar for one download, created on the first progress report."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=0, unit="B", unit_scale=True, desc=self.label)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fetch_many(keys: list[str], *, out=sys.stdout, progress: bool = True) -> int:
    """Fetch each key (all official weights when empty); returns the number of failures."""
    keys = keys or [e.key for e in KNOWN_WEIGHTS.values() if e.urls and e.purpose == "model"]
    failures = 0
    for key in keys:
        bar = _Bar(key) if progress else None
        try:
            path = fetch(key, progress=bar)
        except WeightsFetchError as exc:
            failures += 1
            print(f"error: {key}: {exc}", file=out)
        else:
            print(f"{key}: installed {path}", file=out)
            if known(key).sha256 is None and known(key).sha256_prefix is None:
                print(
                    f"  no published checksum: checked by loading it; SHA-256 {sha256_of(path)}",
                    file=out,
                )
        finally:
            if bar:
                bar.close()
    return failures
