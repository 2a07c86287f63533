"""What the training-pipeline tests share: a folder of photos, a config written as TOML, and a
two-process torchrun of a family."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_photo

ROOT = Path(__file__).resolve().parents[2]


def make_photo_folder(folder: Path, width: int = 96, height: int = 80) -> Path:
    """train/ (4 photos) and val/ (2 others) of generated colour photos."""
    for split, count in (("train", 4), ("val", 2)):
        (folder / split).mkdir()
        for i in range(count):
            make_photo(width, height, mode="RGB", seed=i + (10 if split == "val" else 0)).save(
                folder / split / f"p{i}.png"
            )
    return folder


def to_toml(data: dict, prefix: str = "") -> str:
    """A small TOML writer for the tests' nested configs (tables, arrays of tables, scalars)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                tables.append((f"[{prefix}{key}]", item))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    text = "\n".join(lines) + "\n"
    for key, value in tables:
        if key.startswith("["):
            text += f"[{key}]\n" + to_toml(value)
        else:
            text += f"[{prefix}{key}]\n" + to_toml(value, f"{prefix}{key}.")
    return text


def torchrun_two_processes(
    family: str, config: Path | dict, *, timeout: int = 600
) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=2 -m ml.train FAMILY --config CONFIG` on the CPU.
    A config given as a dict is written as TOML beside its run folder first."""
    if isinstance(config, dict):
        path = Path(config["output"]["dir"]).with_suffix(".toml")
        path.write_text(to_toml(config))
        config = path
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "ml.train", family, "--config", str(config), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
