"""The DDColor training pipeline: tiny real runs on generated photos, resuming, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml import config as ml_config
from ml.checkpoints import load_into
from ml.color import lab_to_linear_rgb, lab_to_rgb
from ml.models.ddcolor import DDColorPredictor, build_ddcolor
from ml.train import common
from ml.train.colour_loss import colourfulness_loss, enhance_colour, lab_to_rgb_tensor
from ml.train.ddcolor import DDColorTraining
from ml.train.perceptual import PerceptualLoss
from tests.conftest import DDCOLOR_MINI
from tests.ml.training import make_photo_folder, to_toml, torchrun_two_processes

# The official module tree at a small size, as lists (TOML has no tuples).
MINI = {k: list(v) if isinstance(v, tuple) else v for k, v in DDCOLOR_MINI.items()}


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"))


def ddcolor_config(photo_folder: Path, out: Path, *, steps: int = 4, **train) -> dict:
    return {
        "data": {
            "train": str(photo_folder / "train"),
            "val": str(photo_folder / "val"),
            "short_side": 80,
        },
        "model": {"variant": "tiny", **MINI},
        "train": {
            "size": 64,
            "batch_size": 2,
            "steps": steps,
            "lr": 1e-3,
            "val_input_size": 64,
            "device": "cpu",
            "log_every": 1,
            "val_every": 1000,
            "checkpoint_every": 2,
            **train,
        },
        "critic": {"nf": 8},
        "output": {"dir": str(out)},
    }


def test_the_generator_losses_fall_on_a_fixed_batch(photo_folder, tmp_path):
    run = DDColorTraining(ddcolor_config(photo_folder, tmp_path))
    batch = run.batch()
    assert batch["gray"].shape == (2, 3, 64, 64) and batch["ab"].shape == (2, 2, 64, 64)
    steps = [run.train_step(batch) for _ in range(6)]
    reconstruction = [s["pixel"] + s["perceptual"] for s in steps]
    assert reconstruction[-1] < reconstruction[0]
    assert all(np.isfinite(s["gan"]) and np.isfinite(s["critic_loss"]) for s in steps)
    assert set(steps[0]) >= {"pixel", "perceptual", "gan", "colourfulness", "loss", "lr"}
    assert run.step == 6


def test_a_run_checkpoints_validates_and_resumes_with_the_same_losses(photo_folder, tmp_path):
    straight = DDColorTraining(ddcolor_config(photo_folder, tmp_path / "a")).run(progress=False)
    assert [p.name for p in sorted((tmp_path / "a/checkpoints").glob("*.pt"))] == [
        "step-0000002.pt",
        "step-0000004.pt",
    ]
    assert straight["validation"].count == 2
    assert (tmp_path / "a/samples/step-0000004.png").is_file()
    with (tmp_path / "a/log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["step"] for row in rows] == ["1", "2", "3", "4"]
    assert "substitute" in straight["feature_loss"] and "random" in straight["encoder"]

    DDColorTraining(ddcolor_config(photo_folder, tmp_path / "b", steps=2)).run(progress=False)
    resumed = DDColorTraining(ddcolor_config(photo_folder, tmp_path / "b")).run(progress=False)
    assert resumed["resumed"] and resumed["start_step"] == 2 and resumed["step"] == 4
    assert resumed["losses"] == pytest.approx(straight["losses"][2:], rel=1e-4)


def test_cli_exports_official_form_weights_with_a_card(photo_folder, tmp_path):
    from ml.train.__main__ import main

    config = ddcolor_config(photo_folder, tmp_path / "run", steps=2)
    export = tmp_path / "tiny-ddcolor.pth"
    config["output"].update(export=str(export), model="tiny-ddcolor")
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    assert main(["ddcolor", "--config", str(path), "--no-progress"]) == 0

    saved = torch.load(export, weights_only=True)
    assert list(saved) == ["params"]
    assert saved["params"]["refine_net.0.0.weight_orig"].dtype == torch.float16
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["family"] == "ddcolor" and card["model"] == "tiny-ddcolor" and card["steps"] == 2
    assert "substitute" in card["started_from"]["feature_loss"]

    net = build_ddcolor("tiny", **MINI)
    load_into(net, export)  # strict: every key of the network, nothing else
    predictor = DDColorPredictor(export, "cpu", variant="tiny", **MINI)
    gray = np.random.default_rng(0).random((40, 60), dtype=np.float32)
    chroma = predictor.predict(gray, input_size=64)
    assert chroma.space == "lab" and chroma.ab.shape == (64, 64, 2)


def test_an_installed_imagenet_convnext_starts_the_encoder(photo_folder, tmp_path):
    """A torchvision ConvNeXt under its catalogue name is renamed into the encoder (random
    weights here: the point is where each tensor goes)."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    dims, settings = MINI["dims"], []
    for i, dim in enumerate(dims):
        settings.append(CNBlockConfig(dim, dims[i + 1] if i < 3 else None, 1))
    torch.manual_seed(5)
    convnext = ConvNeXt(settings)
    torch.save(convnext.state_dict(), weights_dir / "convnext_tiny-983f1562.pth")
    ml_config.configure(weights_dir=weights_dir)
    run = DDColorTraining(ddcolor_config(photo_folder, tmp_path / "run"))
    assert run.encoder_source == "ImageNet ConvNeXt (convnext_tiny-983f1562.pth)"
    encoder = run.net.encoder.arch
    block = convnext.features[3][0]  # stage 2, block 0
    assert torch.equal(encoder.stages[1][0].dwconv.weight, block.block[0].weight)
    assert torch.equal(encoder.stages[1][0].pwconv2.bias, block.block[5].bias)
    assert torch.equal(encoder.stages[1][0].gamma, block.layer_scale.flatten())
    assert torch.equal(encoder.downsample_layers[2][1].weight, convnext.features[4][1].weight)
    assert torch.equal(encoder.norm.weight, convnext.classifier[0].weight)

    other = dict(ddcolor_config(photo_folder, tmp_path / "other"))
    other["model"] = {**other["model"], "dims": [16, 32, 64, 128]}
    with pytest.raises(common.TrainingError, match="does not fit"):
        DDColorTraining(other)


def test_differentiable_lab_to_rgb_matches_the_pipelines():
    rng = np.random.default_rng(1)
    lab = np.stack(
        [rng.uniform(20, 90, 500), rng.uniform(-30, 30, 500), rng.uniform(-30, 30, 500)], -1
    ).astype(np.float32)
    expected = lab_to_rgb(lab)
    got = lab_to_rgb_tensor(torch.from_numpy(lab).T.reshape(1, 3, 500, 1))
    linear = lab_to_linear_rgb(lab)
    inside = (linear > 0.001).all(-1) & (linear < 0.999).all(-1)  # no gamut fitting there
    assert inside.sum() > 100
    assert np.abs(got[0, :, :, 0].T.numpy()[inside] - expected[inside]).max() < 1e-4

    gray = torch.full((1, 3, 4, 4), 50.0) * torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    gray.requires_grad_(True)
    lab_to_rgb_tensor(gray).sum().backward()
    assert torch.isfinite(gray.grad).all()


def test_colourfulness_loss_and_colour_enhancement():
    gray = torch.full((2, 3, 8, 8), 0.4, requires_grad=True)
    loss = colourfulness_loss(gray)
    assert float(loss.detach()) == pytest.approx(1.0, abs=1e-3)
    loss.backward()
    assert torch.isfinite(gray.grad).all()
    colourful = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert float(colourfulness_loss(colourful)) < 0.9
    assert torch.allclose(enhance_colour(colourful, 1.0), colourful, atol=1e-6)
    assert colourfulness_loss(enhance_colour(colourful, 1.2)) < colourfulness_loss(colourful)


def test_perceptual_loss_taps_the_first_conv_of_each_vgg_block():
    loss = PerceptualLoss(None)
    assert loss.taps == [0, 7, 14, 24, 34]  # conv1_1, conv2_1, conv3_1, conv4_1, conv5_1
    x = torch.rand(1, 3, 32, 32)
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, (x + 0.1).clamp(0, 1))) > 0.0


def test_a_bad_training_size_is_refused(photo_folder, tmp_path):
    with pytest.raises(common.TrainingError, match="multiple of 32"):
        DDColorTraining(ddcolor_config(photo_folder, tmp_path, size=100))


def test_the_shipped_config_is_the_official_recipe():
    from ml import registry

    root = Path(__file__).resolve().parents[2]
    config = common.load_config(root / "ml/train/configs/ddcolor-tiny.toml")
    train = config["train"]
    weights = [train[f"{k}_weight"] for k in ("pixel", "perceptual", "gan", "colourfulness")]
    assert weights == [0.1, 5.0, 1.0, 0.5]
    assert (train["lr"], train["weight_decay"], train["betas"]) == (1e-4, 0.01, [0.9, 0.99])
    assert config["model"]["variant"] == "tiny"
    spec = registry.get_spec(config["output"]["model"])
    assert spec.key == "ddcolor-tiny-coloria" and spec.options == {"variant": "tiny"}


@pytest.mark.slow
def test_two_process_data_parallel_ddcolor_training_on_cpu(photo_folder, tmp_path):
    config = ddcolor_config(photo_folder, tmp_path / "run", steps=2)
    done = torchrun_two_processes("ddcolor", config)
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(tmp_path / "run/checkpoints/step-0000002.pt", weights_only=False)
    assert state["step"] == 2
