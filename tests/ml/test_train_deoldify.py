"""The DeOldify NoGAN pipeline: tiny real runs on generated photos through all three phases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from ml import config as ml_config
from ml.models.deoldify import DeOldifyPredictor
from ml.train.deoldify import DeOldifyTraining
from ml.train.gan import build_critic
from ml.train.perceptual import FeatureLoss
from tests.ml.training import make_photo_folder, to_toml, torchrun_two_processes

TINY_MODEL = {"encoder": "resnet18", "decoder": "deep", "nf_factor": 0.25}


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"))


def deoldify_config(photo_folder: Path, out: Path, *, gen=(2, 1), critic=2, gan=3, **gan_cfg):
    return {
        "data": {"train": str(photo_folder / "train"), "val": str(photo_folder / "val"),
                 "short_side": 80},
        "model": TINY_MODEL,
        "generator": {"stages": [
            {"size": 64, "batch_size": 2, "steps": gen[0], "lr": 1e-3, "freeze_encoder": True},
            {"size": 64, "batch_size": 2, "steps": gen[1], "lr": 1e-3},
        ]},
        "critic": {"nf": 8, "size": 64, "batch_size": 2, "steps": critic, "lr": 1e-3},
        "gan": {"size": 64, "batch_size": 2, "steps": gan, "lr": 1e-4, "critic_thresh": 10.0,
                "checkpoint_every": 1, **gan_cfg},
        "train": {"seed": 3, "device": "cpu", "val_every": 1000, "checkpoint_every": 2,
                  "log_every": 1, "val_render_factor": 4},
        "output": {"dir": str(out)},
    }  # fmt: skip


def test_a_run_goes_through_every_phase_and_logs_it(photo_folder, tmp_path):
    run = DeOldifyTraining(deoldify_config(photo_folder, tmp_path))
    frozen_before = run.generator.layers[0][0].weight.detach().clone()
    outcome = run.run(progress=False)
    assert outcome["step"] == 2 + 1 + 2 + 3
    with (tmp_path / "log.csv").open() as handle:
        phases = [row["phase"] for row in csv.DictReader(handle) if row["loss"]]
    assert phases == ["generator"] * 3 + ["critic"] * 2 + ["gan"] * 3
    # The encoder was frozen in the first stage only: the second stage moved it.
    assert not torch.equal(run.generator.layers[0][0].weight, frozen_before)
    assert "random" in outcome["encoder"] and "substitute" in outcome["feature_loss"]
    # Validation ran at the end of every stage, with sample sheets.
    assert outcome["validation"].count == 2
    assert len(list((tmp_path / "samples").glob("step-*.png"))) == 4


def test_the_encoder_stays_put_while_frozen(photo_folder, tmp_path):
    run = DeOldifyTraining(deoldify_config(photo_folder, tmp_path, gen=(2, 0), critic=0, gan=0))
    encoder = {k: v.clone() for k, v in run.generator.layers[0].named_parameters()}
    decoder = run.generator.layers[4].conv1[0].weight_orig.detach().clone()
    run.run(progress=False)
    after = dict(run.generator.layers[0].named_parameters())
    assert all(torch.equal(encoder[k], after[k]) for k in encoder)
    assert not torch.equal(run.generator.layers[4].conv1[0].weight_orig, decoder)


def test_the_generator_feature_loss_falls_on_a_fixed_batch(photo_folder, tmp_path):
    run = DeOldifyTraining(deoldify_config(photo_folder, tmp_path))
    stage = run.stages[1]
    gray, truth = run.batch(stage)
    run.generator.train()
    losses = []
    for _ in range(6):
        loss = run.feature_loss(run.generator(gray), truth)
        run.gen_optimizer.zero_grad()
        loss.backward()
        run.gen_optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_the_gan_switcher_waits_for_the_critic(photo_folder, tmp_path):
    """With an unreachable critic threshold the GAN phase trains only the critic; with a lax one
    critic and generator alternate (fastai's AdaptiveGANSwitcher)."""
    strict = DeOldifyTraining(
        deoldify_config(photo_folder, tmp_path / "a", gen=(1, 0), critic=0, gan=3,
                        critic_thresh=0.0)
    )  # fmt: skip
    strict.train_step()  # the generator stage
    before = {k: v.clone() for k, v in strict.generator.state_dict().items()}
    for _ in range(3):
        assert strict.train_step()["phase"] == "gan"
    after = strict.generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    lax = DeOldifyTraining(deoldify_config(photo_folder, tmp_path / "b", gen=(1, 0), critic=0))
    turns = []
    for _ in range(lax.steps):
        generator_turn = lax.stage_at(lax.step).phase == "gan" and lax.gen_mode
        lax.train_step()
        turns.append(generator_turn)
    assert turns == [False, False, True, False]


def test_resuming_reproduces_the_same_losses(photo_folder, tmp_path):
    straight = DeOldifyTraining(deoldify_config(photo_folder, tmp_path / "a")).run(progress=False)
    first = deoldify_config(photo_folder, tmp_path / "b", gan=0, critic=0, gen=(2, 0))
    DeOldifyTraining(first).run(progress=False)
    resumed = DeOldifyTraining(deoldify_config(photo_folder, tmp_path / "b")).run(progress=False)
    assert resumed["resumed"] and resumed["start_step"] == 2
    assert resumed["losses"] == pytest.approx(straight["losses"][2:], rel=1e-4)


def test_installed_imagenet_backbones_are_used(photo_folder, tmp_path):
    """Files under torchvision's names in the weights directory start the encoder and the
    feature loss (random ones here: the point is where they go)."""
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    torch.manual_seed(9)
    resnet = torchvision.models.resnet18(weights=None)
    torch.save(resnet.state_dict(), weights_dir / "resnet18-f37072fd.pth")
    vgg = torchvision.models.vgg16_bn(weights=None)
    torch.save(vgg.state_dict(), weights_dir / "vgg16_bn-6c64b313.pth")
    ml_config.configure(weights_dir=weights_dir)
    run = DeOldifyTraining(deoldify_config(photo_folder, tmp_path / "run"))
    assert run.encoder_source == "ImageNet resnet18 (resnet18-f37072fd.pth)"
    assert torch.equal(run.generator.layers[0][4][0].conv1.weight, resnet.layer1[0].conv1.weight)
    assert run.feature_loss.source == "ImageNet VGG16-bn (vgg16_bn-6c64b313.pth)"
    assert torch.equal(run.feature_loss.features[0].weight, vgg.features[0].weight)


def test_feature_loss_taps_the_layers_before_pools_3_to_5():
    loss = FeatureLoss(None)
    assert loss.taps == [22, 32, 42]  # the ReLUs before VGG16-bn's last three max-pools
    x = torch.randn(1, 3, 64, 64)
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, x + 0.1)) > 0.1


def test_critic_gives_patch_logits():
    critic = build_critic(nf=8)
    assert critic(torch.randn(2, 3, 64, 64)).shape == (2, 1)
    assert critic(torch.randn(2, 3, 128, 128)).shape == (2, 25)


def test_cli_exports_weights_that_colorize_with_a_card(photo_folder, tmp_path):
    from ml.train.__main__ import main

    config = deoldify_config(photo_folder, tmp_path / "run", gen=(1, 0), critic=1, gan=1)
    export = tmp_path / "tiny-deoldify.pth"
    config["output"].update(export=str(export), model="tiny-deoldify")
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    assert main(["deoldify", "--config", str(path), "--no-progress"]) == 0
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["family"] == "deoldify" and card["steps"] == 3
    assert "substitute" in card["started_from"]["feature_loss"]
    predictor = DeOldifyPredictor(export, "cpu", **TINY_MODEL)
    gray = np.random.default_rng(0).random((40, 60), dtype=np.float32)
    chroma = predictor.predict(gray, render_factor=4)
    assert chroma.space == "yuv" and chroma.ab.shape == (64, 64, 2)


@pytest.mark.parametrize("variant", ["artistic", "stable"])
def test_the_shipped_configs_follow_the_study(variant):
    from ml.models.deoldify import ARCHITECTURES, Architecture
    from ml.train import common
    from ml.train.deoldify import schedule

    root = Path(__file__).resolve().parents[2]
    config = common.load_config(root / f"ml/train/configs/deoldify-{variant}.toml")
    model = config["model"]
    arch = Architecture(model["encoder"], model["decoder"], model["nf_factor"])
    assert arch == ARCHITECTURES[variant]
    stages = schedule(config)
    assert [s.phase for s in stages][-2:] == ["critic", "gan"]
    assert (stages[0].size, stages[0].batch_size, stages[0].freeze_encoder) == (64, 88, True)
    assert config["gan"]["weights_gen"] == {"artistic": [1.0, 2.0], "stable": [1.0, 1.5]}[variant]
    assert config["output"]["model"] == f"deoldify-{variant}-coloria"


@pytest.mark.slow
def test_two_process_data_parallel_deoldify_training_on_cpu(photo_folder, tmp_path):
    config = deoldify_config(photo_folder, tmp_path / "run", gen=(1, 1), critic=1, gan=2)
    done = torchrun_two_processes("deoldify", config)
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(tmp_path / "run/checkpoints/step-0000005.pt", weights_only=False)
    assert state["step"] == 5
