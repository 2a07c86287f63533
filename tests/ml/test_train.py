"""Training pipelines: tiny real runs on generated photos (loss falls, checkpoints, resume, DDP)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.models.colour_classes import ab_bins
from ml.train import common, perceptual
from ml.train.colour_bins import rebalance_weights, soft_encode
from ml.train.zhang import ZhangTraining
from tests.conftest import SHIPPED_WEIGHTS_DIR
from tests.ml.training import make_photo_folder, to_toml, torchrun_two_processes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), width=72, height=56)


def zhang_config(photo_folder: Path, out: Path, **train) -> dict:
    return {
        "data": {
            "train": str(photo_folder / "train"),
            "val": str(photo_folder / "val"),
            "short_side": 48,
        },
        "model": {"network": train.pop("network", "eccv16"), "width": 0.125},
        "train": {"size": 32, "batch_size": 4, "steps": 4, "lr": 1e-3, "seed": 3, "val_every": 100,
                  "checkpoint_every": 2, "log_every": 1, "device": "cpu", **train},
        "output": {"dir": str(out)},
    }  # fmt: skip


def test_bins_are_313_distinct_cells_starting_in_the_gamut():
    bins = ab_bins()
    assert bins.shape == (313, 2)
    assert len({tuple(b) for b in bins}) == 313
    assert (0.0, 0.0) in {tuple(b) for b in bins}


def test_soft_encoding_is_a_distribution_peaked_at_the_nearest_bin():
    bins = torch.from_numpy(ab_bins())
    ab = torch.tensor([[[[23.0]], [[-41.0]]]])
    target = soft_encode(ab, bins)
    assert target.shape == (1, 313, 1, 1)
    assert torch.isclose(target.sum(), torch.tensor(1.0))
    nearest = torch.cdist(ab.view(1, 2), bins).argmin()
    assert target.view(-1).argmax() == nearest


def test_rebalancing_favours_rare_colours_and_has_unit_expectation():
    bins = ab_bins()
    distribution = np.full(313, 1e-6)
    distribution[0] = 0.9  # neutral is common
    distribution /= distribution.sum()
    weights = rebalance_weights(distribution, bins)
    assert weights[0] < weights[-1]
    uniform = rebalance_weights(np.full(313, 1 / 313), bins)
    assert np.allclose(uniform, uniform.mean(), rtol=0.2)  # only edge smoothing differs
    assert 0.8 < float(uniform.mean()) < 1.25


@pytest.mark.parametrize("loss", ["default", "delta_e00"])
@pytest.mark.parametrize("network", ["eccv16", "siggraph17"])
def test_zhang_loss_falls_on_a_fixed_batch(photo_folder, tmp_path, network, loss):
    run = ZhangTraining(zhang_config(photo_folder, tmp_path, network=network, lr=1e-3, loss=loss))
    lab = run.batch()
    run.net.train()
    losses = []
    for _ in range(8):
        run.hint_generator.manual_seed(0)  # the same hints each time: only the weights change
        loss = run.loss(lab)
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-2:]) < losses[0]


def test_a_fine_tune_starts_from_the_init_weights_and_its_card_says_so(photo_folder, tmp_path):
    import json

    from ml.train.__main__ import main
    from ml.weights import sha256_of

    first = ZhangTraining(zhang_config(photo_folder, tmp_path / "first", steps=1))
    first.run(progress=False)
    weights = first.export(tmp_path / "first.pth")

    config = zhang_config(photo_folder, tmp_path / "second", loss="delta_e00", steps=2)
    config["model"]["init"] = str(weights)
    second = ZhangTraining(config)
    for name, tensor in first.net.state_dict().items():  # fp16 on disk: equal to fp16 precision
        assert torch.allclose(second.net.state_dict()[name], tensor, rtol=1e-3, atol=1e-3), name

    config["output"]["export"] = str(tmp_path / "second.pth")
    path = tmp_path / "second.toml"
    path.write_text(to_toml(config))
    assert main(["zhang", "--config", str(path), "--no-progress"]) == 0
    card = json.loads((tmp_path / "second.json").read_text())
    assert card["started_from"] == {"weights": f"first.pth (sha256 {sha256_of(weights)})"}
    assert card["recipe"]["train"]["loss"] == "delta_e00"


def test_a_missing_init_file_or_unknown_loss_is_a_clear_error(photo_folder, tmp_path):
    config = zhang_config(photo_folder, tmp_path)
    config["model"]["init"] = str(tmp_path / "nowhere.pth")
    with pytest.raises(common.TrainingError, match=r"init: no weights file at .*nowhere\.pth"):
        ZhangTraining(config)
    with pytest.raises(common.TrainingError, match=r"unknown loss 'l2'.*delta_e00"):
        ZhangTraining(zhang_config(photo_folder, tmp_path, loss="l2"))


def test_zhang_checkpoints_and_resumes_at_the_same_step_with_the_same_loss(photo_folder, tmp_path):
    straight = ZhangTraining(zhang_config(photo_folder, tmp_path / "a")).run(progress=False)
    assert (tmp_path / "a/checkpoints/step-0000004.pt").is_file()
    assert (tmp_path / "a/log.csv").read_text().count("\n") == 5

    ZhangTraining(zhang_config(photo_folder, tmp_path / "b", steps=2)).run(progress=False)
    resumed = ZhangTraining(zhang_config(photo_folder, tmp_path / "b")).run(progress=False)
    assert resumed["resumed"] and resumed["start_step"] == 2
    assert resumed["losses"] == pytest.approx(straight["losses"][2:], rel=1e-5)


def test_zhang_validation_scores_against_the_grey_baseline(photo_folder, tmp_path):
    outcome = ZhangTraining(zhang_config(photo_folder, tmp_path, steps=2, val_every=2)).run(
        progress=False
    )
    figures = outcome["validation"]
    assert figures.count == 2 and figures.grey_delta_e00 > 0 and figures.truth_colourfulness > 0
    assert (tmp_path / "samples/step-0000002.png").is_file()


def test_exported_weights_load_into_the_predictor_and_colorize(photo_folder, tmp_path):
    from ml.models.zhang import ZhangPredictor

    run = ZhangTraining(zhang_config(photo_folder, tmp_path, steps=1))
    run.run(progress=False)
    path = run.export(tmp_path / "small.pth")
    predictor = ZhangPredictor(path, "cpu", network="eccv16", width=0.125)
    chroma = predictor.predict(np.random.default_rng(0).random((40, 60), dtype=np.float32))
    assert chroma.ab.shape == (256, 256, 2)


def test_cli_reports_a_missing_folder_clearly(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\ntrain = "/nonexistent"\n')
    done = subprocess.run(
        [sys.executable, "-m", "ml.train", "zhang", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no such folder of images: /nonexistent" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("stepz = 2", "unknown setting train.stepz: this pipeline does not use it"),
        ('steps = "many"', "bad setting train.steps = 'many': invalid literal for int()"),
    ],
)
def test_cli_refuses_an_unknown_or_malformed_setting_before_training(
    photo_folder, tmp_path, capsys, line, message
):
    from ml.train.__main__ import main

    # Ignored, the typo would train for 1000 steps (the default) and exit as if all were well.
    config = tmp_path / "typo.toml"
    config.write_text(
        f'[data]\ntrain = "{photo_folder / "train"}"\nshort_side = 48\n'
        '[model]\nwidth = 0.125\n[train]\nsize = 32\nbatch_size = 2\ndevice = "cpu"\n'
        f'{line}\n[output]\ndir = "{tmp_path / "run"}"\n'
    )
    assert main(["zhang", "--config", str(config), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not list((tmp_path / "run").rglob("step-*"))  # nothing trained, nothing saved


def test_cli_explains_an_output_folder_that_is_a_file(photo_folder, tmp_path, capsys):
    from ml.train.__main__ import main

    (tmp_path / "run.txt").write_text("kept")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\ntrain = "{photo_folder / "train"}"\n[output]\ndir = "{tmp_path / "run.txt"}"\n'
    )
    assert main(["zhang", "--config", str(config), "--no-progress"]) == 2
    assert f"error: {tmp_path / 'run.txt'}: File exists" in capsys.readouterr().err
    assert (tmp_path / "run.txt").read_text() == "kept"


PIPELINE_OF_CONFIG = {
    "zhang-eccv16-cpu": ("zhang", "ZhangTraining"),
    "zhang-eccv16-cpu-finetune": ("zhang", "ZhangTraining"),
    "cnn-cpu": ("keras_cnn", "CNNTraining"),
    "deoldify-artistic": ("deoldify", "DeOldifyTraining"),
    "deoldify-stable": ("deoldify", "DeOldifyTraining"),
    "bigcolor": ("bigcolor", "BigColorTraining"),
    "ddcolor-tiny": ("ddcolor", "DDColorTraining"),
    "coloria-lite-cpu": ("coloria_lite", "ColoriaLiteTraining"),
    "coloria-lite-gpu": ("coloria_lite", "ColoriaLiteTraining"),
}


def test_every_config_in_the_repository_is_covered():
    assert {p.stem for p in (ROOT / "ml/train/configs").glob("*.toml")} == set(PIPELINE_OF_CONFIG)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PIPELINE_OF_CONFIG))
def test_the_repository_configs_use_only_settings_their_pipeline_knows(
    name, photo_folder, tmp_path, monkeypatch
):
    import importlib

    module, cls = PIPELINE_OF_CONFIG[name]
    training = getattr(importlib.import_module(f"ml.train.{module}"), cls)
    config = common.load_config(
        ROOT / f"ml/train/configs/{name}.toml",
        [f'data.train="{photo_folder / "train"}"', f'data.val="{photo_folder / "val"}"',
         f'output.dir="{tmp_path / "run"}"'],
    )  # fmt: skip
    # Only values change, never which settings are there: small enough for a handful of photos.
    if "device" in config["train"]:
        config["train"]["device"] = "cpu"
    if "batch_size" in config["train"]:
        config["train"]["batch_size"] = 2
    if "init" in config.get("model", {}):
        config["model"]["init"] = str(SHIPPED_WEIGHTS_DIR / "zhang-eccv16-coloria.pth")
    if "min_colourfulness" in config["data"]:
        config["data"]["min_colourfulness"] = 0.0  # the generated photos are pale

    class SettingsChecked(Exception):
        pass

    def stop(self) -> bool:  # the check has run: stop before any training
        raise SettingsChecked

    monkeypatch.setattr(training, "resume", stop)
    with pytest.raises(SettingsChecked):
        training(config).run(progress=False)
    assert config.checked


def test_config_overrides():
    path = ROOT / "ml/train/configs/zhang-eccv16-cpu.toml"
    config = common.load_config(path, ["train.steps=7", 'data.train="x"'])
    assert config["train"]["steps"] == 7 and config["data"]["train"] == "x"


@pytest.mark.slow
def test_two_process_data_parallel_training_on_cpu(photo_folder, tmp_path):
    config = tmp_path / "ddp.toml"
    config.write_text(
        f'[data]\ntrain = "{photo_folder / "train"}"\nshort_side = 48\n'
        '[model]\nnetwork = "eccv16"\nwidth = 0.125\n'
        '[train]\nsize = 32\nbatch_size = 2\nsteps = 3\ncheckpoint_every = 3\ndevice = "cpu"\n'
        f'[output]\ndir = "{tmp_path / "run"}"\n'
    )
    done = torchrun_two_processes("zhang", config, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run/checkpoints/step-0000003.pt").is_file()
    state = torch.load(tmp_path / "run/checkpoints/step-0000003.pt", weights_only=False)
    assert state["step"] == 3


def test_the_cli_exports_weights_with_their_card(photo_folder, tmp_path, capsys):
    import json

    from ml.train.__main__ import main

    export = tmp_path / "tiny-coloria.pth"
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'[data]\ntrain = "{photo_folder / "train"}"\nval = "{photo_folder / "val"}"\n'
        'short_side = 48\n[model]\nnetwork = "eccv16"\nwidth = 0.125\n'
        "[train]\nsize = 32\nbatch_size = 4\nsteps = 2\nval_every = 2\ncheckpoint_every = 2\n"
        'device = "cpu"\n'
        f'[output]\ndir = "{tmp_path / "run"}"\nexport = "{export}"\nmodel = "tiny-coloria"\n'
    )
    assert main(["zhang", "--config", str(config), "--no-progress"]) == 0
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["model"] == "tiny-coloria" and card["weights_file"] == export.name
    assert card["steps"] == 2 and card["bytes"] == export.stat().st_size
    assert card["validation"]["photos"] == 2
    assert card["clears_the_bar"] == (
        card["validation"]["delta_e00"] < card["validation"]["grey_delta_e00"]
        and card["validation"]["colourfulness"] >= 0.5 * card["validation"]["truth_colourfulness"]
    )
    assert "exported" in capsys.readouterr().out


def test_perceptual_vgg_is_imagenet_when_installed_and_a_seeded_substitute_otherwise(tmp_path):
    """torchvision's old VGG files have no num_batches_tracked; they load all the same."""
    import torchvision

    reference = torchvision.models.vgg16_bn(weights=None).state_dict()
    old_style = {k: v for k, v in reference.items() if "num_batches_tracked" not in k}
    torch.save(old_style, tmp_path / "vgg16_bn-6c64b313.pth")
    features, source = perceptual.vgg16_features(
        tmp_path / "vgg16_bn-6c64b313.pth", batch_norm=True, keep=10
    )
    assert source == "ImageNet VGG16-bn (vgg16_bn-6c64b313.pth)" and len(features) == 10
    assert torch.equal(features[7].weight, reference["features.7.weight"])
    first, source = perceptual.vgg16_features(None, batch_norm=False, seed=3)
    again, _ = perceptual.vgg16_features(None, batch_norm=False, seed=3)
    assert source.startswith("substitute: VGG16 with fixed random weights")
    assert torch.equal(first[0].weight, again[0].weight)


def test_throughput_is_the_speed_of_the_recent_steps(monkeypatch):
    from ml.train import common

    clock = iter([0.0, 1.0, 2.0, 3.0, 13.0, 23.0, 33.0])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(clock))
    speed = common.Throughput(window=3)
    assert [speed.add(10) for _ in range(3)] == [10.0, 10.0, 10.0]  # 10 images a second
    # The run slows to 1 image a second: within one window the figure says so.
    assert [round(speed.add(10), 2) for _ in range(3)] == [2.5, 1.43, 1.0]
