"""The work folder that makes a video job resumable.

Each frame's smoothed chroma (what is joined to the frame's own lightness) is saved as a
compressed float16 .npz, `000123.npz`, written under a temporary name and renamed, so a file is
whole or absent. A rerun after a worker restart decodes the film again, reuses the saved chroma
of the frames done (the unbroken run from the first frame: smoothing needs each frame's
predecessor) and predicts only the rest; encoding starts again, which costs little beside the
model. `manifest.json` records what the chroma was made from (the file's size and first bytes'
hash, the model, its parameters and the smoothing): when any of it differs, the old frames are
thrown away. Disk: 2 bytes × 2 channels × the model's working size per frame before
compression (256 × 256: 256 kB); measured with zhang-eccv16-coloria on a generated 720p film,
0.16 MB a frame, so about 230 MB for 60 s at 24 fps. Delete the folder once the job has
succeeded (the caller owns it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"


def fingerprint(src: str | os.PathLike, **settings: Any) -> dict[str, Any]:
    """What a job's chroma depends on: the source file and the settings."""
    path = Path(src)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        size = path.stat().st_size
        if size > 1 << 20:
            handle.seek(max(size - (1 << 20), 1 << 20))
            digest.update(handle.read())
    return {"bytes": size, "sha256_ends": digest.hexdigest(), **settings}


class FrameStore:
    """Smoothed chroma per frame in a folder; `None` folder: nothing kept."""

    def __init__(self, folder: str | os.PathLike | None, key: dict[str, Any]) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.done = 0  # frames 0 .. done-1 are stored
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = self.folder / MANIFEST
        key_text = json.dumps(key, sort_keys=True, default=str)
        try:
            same = manifest.read_text() == key_text
        except OSError:
            same = False
        if not same:
            for old in self.folder.glob("*.npz"):
                old.unlink()
            _write(manifest, key_text.encode())
        while (self.folder / self._name(self.done)).exists():
            self.done += 1

    @staticmethod
    def _name(index: int) -> str:
        return f"{index:06d}.npz"

    def load(self, index: int) -> np.ndarray | None:
        """The stored chroma of frame `index`, or None when it is to be predicted."""
        if self.folder is None or index >= self.done:
            return None
        try:
            with np.load(self.folder / self._name(index)) as stored:
                return stored["ab"].astype(np.float32)
        except (OSError, ValueError, KeyError):  # damaged: predict it and what follows again
            self.done = index
            return None

    def save(self, index: int, ab: np.ndarray) -> None:
        if self.folder is None:
            return
        path = self.folder / self._name(index)
        temporary = path.with_suffix(".tmp.npz")
        np.savez_compressed(temporary, ab=np.asarray(ab, dtype=np.float16))
        os.replace(temporary, path)


def _write(path: Path, content: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
