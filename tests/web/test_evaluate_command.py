"""manage.py evaluate: the ml.evaluate reports, plus the figures the model pages read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ml.weights import KNOWN_WEIGHTS
from tests.conftest import make_photo


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.COLORIA_DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(2):
        make_photo(48, 40, mode="RGB", seed=index).save(folder / f"photo{index}.png")
    return folder


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate", *args, "--no-progress", "--samples", "1", stdout=out)
    return out.getvalue()


def test_a_run_stores_its_figures_and_keeps_other_models(data_dir, photos):
    latest = data_dir / "evaluations" / "latest.json"
    latest.parent.mkdir(parents=True)
    earlier = {"name": "Earlier", "metrics": {"delta_e00": {"mean": 9.0}}}
    latest.write_text(json.dumps({"format": 1, "models": {"other-model": earlier}}))

    output = run("--models", "zhang-eccv16", "--images", str(photos))

    assert "| zhang-eccv16 |" in output and "Model page figures updated" in output
    (run_dir,) = (data_dir / "evaluations" / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    stored = json.loads(latest.read_text())
    assert stored["models"]["other-model"] == earlier
    entry = stored["models"]["zhang-eccv16"]
    assert entry["metrics"] == summary["models"]["zhang-eccv16"]["metrics"]
    assert entry["grey_baseline"] == summary["models"]["grey-baseline"]["metrics"]
    assert entry["n_images"] == 2 and entry["run_dir"] == str(run_dir)
    assert entry["timing"]["seconds_per_image_mean"] > 0
    assert "grey-baseline" not in stored["models"]
    assert (run_dir / "plots" / "delta_e00.png").is_file()


def test_checkpoint_series_are_stored_and_survive_later_runs(
    data_dir, photos, random_weights_dir, tmp_path
):
    checkpoint = random_weights_dir / KNOWN_WEIGHTS["zhang-eccv16"].filename
    out = tmp_path / "epochs-run"
    args = ["--checkpoints", str(checkpoint), "--checkpoint-model", "zhang-eccv16"]
    run(*args, "--images", str(photos), "--out", str(out))
    latest = data_dir / "evaluations" / "latest.json"
    entry = json.loads(latest.read_text())["models"]["zhang-eccv16"]
    assert "metrics" not in entry  # only checkpoints were scored
    assert len(entry["epochs"]["series"]) == 1
    assert (out / "epochs.png").is_file()

    run("--models", "zhang-eccv16", "--images", str(photos))
    entry = json.loads(latest.read_text())["models"]["zhang-eccv16"]
    assert "metrics" in entry
    assert len(entry["epochs"]["series"]) == 1
    # The checkpoint is the installed file, so its series point equals the model's own score.
    series_mean = entry["epochs"]["series"][0]["metrics"]["delta_e00"]["mean"]
    assert series_mean == entry["metrics"]["delta_e00"]["mean"]


def test_problems_are_command_errors(data_dir, photos):
    with pytest.raises(CommandError, match="Unknown model 'nope'"):
        run("--models", "nope", "--images", str(photos))
    with pytest.raises(CommandError, match="has no val/ folder"):
        run("--models", "zhang-eccv16", "--photo-set", str(photos))
    notes = photos.parent / "notes.txt"
    notes.write_text("kept")
    with pytest.raises(CommandError, match=r"notes\.txt: File exists"):
        run("--models", "zhang-eccv16", "--images", str(photos), "--out", str(notes))
    assert notes.read_text() == "kept"
    assert not (data_dir / "evaluations" / "latest.json").exists()
