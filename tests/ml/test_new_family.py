"""Adding a model family: three files (its catalogue record, its network, its training pipeline)
and nothing else edited. The toy family in tests/toy_family is such a family, kept outside
Coloria's tree; once its catalogue is loaded it is everywhere a built-in family is."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ml
from ml import registry
from tests.conftest import TOY_CATALOGUE, make_photo
from tests.ml.training import ROOT, make_photo_folder, to_toml


def test_the_family_and_its_model_are_registered(toy_family):
    assert registry.get_family("toy").title == "Toy colorizer"
    assert "toy-slow" in [spec.key for spec in ml.list_models()]
    assert [spec.key for spec in ml.list_models()][-1] == "toy-slow"  # its `order` puts it last


def test_the_model_colorizes_with_its_random_weights(toy_family):
    image = ml.colorize(make_photo(40, 30), model="toy-slow")
    assert image.size == (40, 30) and image.mode == "RGB"


def test_the_benchmark_finds_its_random_weights_builder(toy_family, tmp_path):
    from ml.benchmark import _random_weights

    _random_weights("toy-slow", tmp_path)
    assert (tmp_path / "toy.pth").is_file()


@pytest.mark.slow
def test_python_m_ml_train_trains_it_from_the_record(tmp_path):
    (tmp_path / "photos").mkdir()
    folder = make_photo_folder(tmp_path / "photos", width=48, height=40)
    config = tmp_path / "toy.toml"
    config.write_text(
        to_toml({
            "data": {"train": str(folder / "train"), "val": str(folder / "val")},
            "train": {"steps": 3, "device": "cpu", "val_every": 3},
            "output": {"dir": str(tmp_path / "run"), "export": str(tmp_path / "toy.pth")},
        })
    )  # fmt: skip
    env = dict(os.environ, COLORIA_EXTRA_CATALOGUES=TOY_CATALOGUE)
    done = subprocess.run(
        [sys.executable, "-m", "ml.train", "toy", "--config", str(config), "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "toy.pth").is_file() and (tmp_path / "toy.json").is_file()
    assert "trained to step 3" in done.stdout
