"""The BigColor training pipeline: tiny real runs on generated photos, the official layout of the
discriminator, the starting points and how the weights manager checks them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from ml import config as ml_config
from ml import metrics, runtime, weights
from ml.color import to_gray
from ml.errors import WeightsFetchError
from ml.models.bigcolor import (
    BigColor,
    BigColorConfig,
    BigColorPredictor,
    Generator,
    parameter_names,
)
from ml.train import biggan, common
from ml.train.bigcolor import BigColorTraining, load_training_set
from ml.train.biggan import Discriminator
from ml.train.colour_loss import enhance_colour, luminance_gray
from ml.train.gan import ParameterEMA
from ml.weights import install
from tests.conftest import BIGCOLOR_TINY, make_photo
from tests.ml.training import make_photo_folder, to_toml, torchrun_two_processes


def _faint(seed: int) -> Image.Image:
    """A photo with a trace of colour (colourfulness about 4): below the official floor of 15."""
    photo = np.asarray(make_photo(96, 80, mode="RGB", seed=seed), dtype=np.float32)
    gray = photo.mean(axis=-1, keepdims=True)
    return Image.fromarray((gray + 0.1 * (photo - gray)).round().astype(np.uint8))


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"))


def bigcolor_config(photo_folder: Path, out: Path, **train) -> dict:
    return {
        "data": {"train": str(photo_folder / "train"), "val": str(photo_folder / "val"),
                 "size": 64},
        "model": dict(BIGCOLOR_TINY),
        "discriminator": {"channels": 8},
        "train": {"epochs": 2, "batch_size": 2, "seed": 5, "device": "cpu", "val_side": 64,
                  "log_every": 1, "val_every": 1000, "checkpoint_every": 1000, **train},
        "output": {"dir": str(out)},
    }  # fmt: skip


def test_a_tiny_run_trains_logs_validates_and_checkpoints(photo_folder, tmp_path, capsys):
    outcome = BigColorTraining(bigcolor_config(photo_folder, tmp_path)).run(progress=False)
    assert outcome["step"] == 4  # 2 epochs of 4 photos in batches of 2
    assert all(np.isfinite(outcome["losses"])) and all(np.isfinite(outcome["d_losses"]))
    with (tmp_path / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    # Both learning rates fall by 0.9 after the first epoch.
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-4, 1e-4, 9e-5, 9e-5])
    assert [float(r["lr_d"]) for r in rows] == pytest.approx([3e-5, 3e-5, 2.7e-5, 2.7e-5])
    # A checkpoint at the end of every epoch; validation with samples at the end.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step-0000002.pt",
        "step-0000004.pt",
    ]
    assert outcome["validation"].count == 2 and rows[-1]["val_delta_e00"]
    assert (tmp_path / "samples/step-0000004.png").is_file()
    # Without the BigGAN files, G and D start from random weights, and the run says so.
    started = outcome["started_from"]
    assert "random" in started["generator"] and "G_ema_256.pth not" in started["generator"]
    assert "random" in started["discriminator"] and "D_256.pth" in started["discriminator"]
    assert "substitute" in started["feature_loss"]
    assert outcome["classes"].startswith("fixed class 979: valley")
    printed = capsys.readouterr().out
    assert "generator: random orthogonal initialisation (G_ema_256.pth not installed" in printed
    assert "classes: fixed class 979: valley" in printed


def test_configs_that_cannot_train_are_refused_readably(photo_folder, tmp_path):
    with pytest.raises(common.TrainingError, match="4 usable photos cannot fill one batch of 8"):
        BigColorTraining(bigcolor_config(photo_folder, tmp_path, batch_size=8))
    with pytest.raises(common.TrainingError, match="vgg_layers"):
        BigColorTraining(bigcolor_config(photo_folder, tmp_path, vgg_layers=[40]))


def test_the_reconstruction_loss_falls_on_a_fixed_batch(photo_folder, tmp_path):
    run = BigColorTraining(bigcolor_config(photo_folder, tmp_path))
    rgb, classes = run.batch(0)
    z = torch.randn(len(classes), run.model_config.z_dim) * 0.8
    optimizer = torch.optim.Adam([p for p in run.net.parameters() if p.requires_grad], lr=1e-3)
    run.net.train()
    losses = []
    for _ in range(8):
        output = (run.net(luminance_gray(rgb), classes, z) + 1) / 2
        mse, feature = run.reconstruction_loss(output, rgb)
        loss = mse + 0.2 * feature
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]


def test_resuming_continues_at_the_same_step_with_the_same_losses(photo_folder, tmp_path):
    straight_run = BigColorTraining(bigcolor_config(photo_folder, tmp_path / "a"))
    straight = straight_run.run(progress=False)
    first = BigColorTraining(bigcolor_config(photo_folder, tmp_path / "b", max_steps=3))
    assert first.run(progress=False)["step"] == 3
    resumed_run = BigColorTraining(bigcolor_config(photo_folder, tmp_path / "b"))
    resumed = resumed_run.run(progress=False)
    assert resumed["resumed"] and resumed["start_step"] == 3 and resumed["step"] == 4
    assert resumed["losses"] == pytest.approx(straight["losses"][3:], rel=1e-4)
    assert resumed["d_losses"] == pytest.approx(straight["d_losses"][3:], rel=1e-4)
    assert resumed_run.opt_g.param_groups[0]["lr"] == pytest.approx(0.81e-4)
    averaged, expected = resumed_run.averaged_state_dict(), straight_run.averaged_state_dict()
    assert all(torch.allclose(averaged[k], expected[k], atol=1e-5) for k in expected)


def test_the_cli_exports_the_averaged_weights_with_a_card(photo_folder, tmp_path):
    from ml.train.__main__ import main

    config = bigcolor_config(photo_folder, tmp_path / "run")
    export = tmp_path / "bigcolor-coloria.pth"
    config["output"].update(export=str(export), model="bigcolor-coloria")
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    assert main(["bigcolor", "--config", str(path), "--no-progress"]) == 0

    # The export is the moving average (what the last checkpoint holds), not the live weights.
    state = torch.load(tmp_path / "run/checkpoints/step-0000004.pt", weights_only=False)
    exported = torch.load(export, weights_only=True)
    assert set(exported) == set(state["net"])
    assert all(v.dtype == torch.float16 for v in exported.values() if v.is_floating_point())
    order = parameter_names(BigColor(BigColorConfig(**BIGCOLOR_TINY)))
    shadow = dict(zip(order, state["ema"]["shadow_params"], strict=True))
    assert all(torch.allclose(exported[k].float(), shadow[k], rtol=1e-3, atol=1e-3) for k in order)
    live = state["net"]["E.res1.conv_1.weight"]
    assert not torch.allclose(exported["E.res1.conv_1.weight"].float(), live, atol=1e-4)
    # Buffers (batch-norm statistics, spectral-norm vectors) are the live ones.
    assert torch.allclose(exported["G.blocks.2.0.bn1.stored_mean"].float(),
                          state["net"]["G.blocks.2.0.bn1.stored_mean"], atol=1e-3)  # fmt: skip

    card = json.loads(export.with_suffix(".json").read_text())
    assert card["family"] == "bigcolor" and card["model"] == "bigcolor-coloria"
    assert card["steps"] == 4 and card["options"] == BIGCOLOR_TINY
    assert "random" in card["started_from"]["generator"]
    assert "random" in card["started_from"]["discriminator"]
    assert "substitute" in card["started_from"]["feature_loss"]
    assert card["classes"].startswith("fixed class 979")
    assert card["data"]["low_colourfulness_excluded"] == 0 and card["data"]["photos"] == 4
    assert card["recipe"]["discriminator"] == {"channels": 8}

    predictor = BigColorPredictor(export, "cpu", **BIGCOLOR_TINY)
    gray = np.random.default_rng(0).random((40, 60), dtype=np.float32)
    chroma = predictor.predict(gray, imagenet_class=979)
    assert chroma.ab.shape == (256, 384, 2) and np.isfinite(chroma.ab).all()
    assert float(np.abs(chroma.ab).mean()) > 0.1


def test_low_colourfulness_photos_are_left_out(tmp_path):
    for i in range(3):
        make_photo(96, 80, mode="RGB", seed=i).save(tmp_path / f"vivid{i}.png")
    for i in range(2):
        _faint(i).save(tmp_path / f"faint{i}.png")
    make_photo(96, 80, mode="L", seed=7).save(tmp_path / "gray.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    assert metrics.colourfulness(np.asarray(make_photo(96, 80, mode="RGB"))) >= 15
    assert metrics.colourfulness(np.asarray(_faint(0))) < 15

    data = load_training_set({"train": str(tmp_path), "size": 64})
    assert len(data.crops) == 3 and data.excluded == 3  # 2 faint + 1 gray; broken is skipped
    assert all(crop.shape == (64, 64, 3) for crop in data.crops)
    assert list(data.classes) == [979] * 3
    everything = load_training_set({"train": str(tmp_path), "size": 64, "min_colourfulness": 0})
    assert len(everything.crops) == 6
    with pytest.raises(common.TrainingError, match="colourfulness"):
        load_training_set({"train": str(tmp_path), "size": 64, "min_colourfulness": 500})
    with pytest.raises(common.TrainingError, match="multiple of 64"):
        load_training_set({"train": str(tmp_path), "size": 100})


def test_classes_can_be_fixed_or_come_from_a_classifier(photo_folder, tmp_path):
    train = str(photo_folder / "train")
    named = load_training_set({"train": train, "size": 64, "classes": "lakeside"})
    assert list(named.classes) == [975] * 4 and "configured" in named.labelling
    with pytest.raises(common.TrainingError, match="'auto', 'folders' or an ImageNet class"):
        load_training_set({"train": train, "size": 64, "classes": "unicorn"})
    with pytest.raises(common.TrainingError, match="1000 class folders"):
        load_training_set({"train": train, "size": 64, "classes": "folders"})

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(),
               tmp_path / "resnet18-f37072fd.pth")  # fmt: skip
    ml_config.configure(weights_dir=tmp_path)
    # The classifier is cached per process: neither reuse another test's nor leave this one.
    runtime.unload_all()
    try:
        ranked = load_training_set({"train": train, "size": 64})
    finally:
        runtime.unload_all()
    assert "classifier resnet18" in ranked.labelling and ranked.fixed_class is None
    assert all(0 <= c < 1000 for c in ranked.classes)


def test_the_gray_input_is_the_one_the_predictor_gets():
    rgb = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    ours = luminance_gray(tensor)[0, 0].numpy()
    assert np.abs(ours - to_gray(Image.fromarray(rgb))).max() < 1e-5
    enhanced = enhance_colour(tensor, 1.2)
    assert float(enhanced.min()) >= 0 and float(enhanced.max()) <= 1
    as_uint8 = (enhanced[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert metrics.colourfulness(as_uint8) > 1.1 * metrics.colourfulness(rgb)


def test_the_moving_average_follows_torch_ema():
    parameter = torch.zeros(3)
    ema = ParameterEMA([parameter], decay=0.999)
    parameter += 1
    ema.update([parameter])  # warm-up: min(0.999, 2 / 11)
    assert torch.allclose(ema.shadow[0], torch.full((3,), 1 - 2 / 11))
    state = ema.state_dict()
    assert set(state) == {"decay", "num_updates", "shadow_params"} and state["num_updates"] == 1


# The full-size discriminator's representative tensors, from BigGAN-PyTorch's D_arch[256] with
# D_ch 96 and attention at 64 px (checked against the official models/biggan.py).
OFFICIAL_D_KEYS = {
    "blocks.0.0.conv1.weight": (96, 3, 3, 3),
    "blocks.0.0.conv1.u0": (1, 96),
    "blocks.0.0.conv1.sv0": (1,),
    "blocks.0.0.conv_sc.weight": (96, 3, 1, 1),
    "blocks.1.0.conv2.weight": (192, 192, 3, 3),
    "blocks.1.1.gamma": (),
    "blocks.1.1.theta.weight": (24, 192, 1, 1),
    "blocks.1.1.phi.u0": (1, 24),
    "blocks.1.1.g.weight": (96, 192, 1, 1),
    "blocks.1.1.o.weight": (192, 96, 1, 1),
    "blocks.3.0.conv_sc.bias": (768,),
    "blocks.4.0.conv1.weight": (768, 768, 3, 3),
    "blocks.5.0.conv_sc.weight": (1536, 768, 1, 1),
    "blocks.6.0.conv2.weight": (1536, 1536, 3, 3),
    "linear.weight": (1, 1536),
    "linear.bias": (1,),
    "linear.u0": (1, 1),
    "embed.weight": (1000, 1536),
    "embed.u0": (1, 1000),
    "embed.sv0": (1,),
}


def test_the_discriminator_has_the_official_layout():
    shapes = biggan.discriminator_shapes(96)
    assert {k: shapes[k] for k in OFFICIAL_D_KEYS} == OFFICIAL_D_KEYS
    assert len(shapes) == 100 and "blocks.6.0.conv_sc.weight" not in shapes  # same width, size
    with torch.device("meta"):
        full = Discriminator(96)
    assert sum(p.numel() for p in full.parameters()) == 99_225_890

    tiny = Discriminator(8).eval()
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    logits = tiny(images, torch.tensor([1, 2]))
    assert logits.shape == (2,)
    # Projection: the class changes the verdict on the same image.
    assert not torch.allclose(logits, tiny(images, torch.tensor([3, 4])))


def _tiny_biggan_files(folder: Path) -> tuple[dict, dict]:
    """Tiny G and D files under the official names, in the official form (G: no `G.` prefix and
    no instance norms)."""
    torch.manual_seed(11)
    generator = {
        k: v
        for k, v in Generator(BigColorConfig(**BIGCOLOR_TINY)).state_dict().items()
        if ".in1." not in k and ".in2." not in k
    }
    discriminator = Discriminator(8).state_dict()
    torch.save(generator, folder / "G_ema_256.pth")
    torch.save(discriminator, folder / "D_256.pth")
    return generator, discriminator


def test_installed_biggan_files_start_the_generator_and_discriminator(photo_folder, tmp_path):
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    generator, discriminator = _tiny_biggan_files(weights_dir)
    ml_config.configure(weights_dir=weights_dir)
    run = BigColorTraining(bigcolor_config(photo_folder, tmp_path / "run"))
    assert run.started_from["generator"] == "BigGAN-256 (G_ema_256.pth)"
    assert run.started_from["discriminator"] == "BigGAN-256 (D_256.pth)"
    assert torch.equal(run.net.G.blocks[3][1].theta.weight, generator["blocks.3.1.theta.weight"])
    assert torch.equal(run.net.G.shared.weight, generator["shared.weight"])
    assert torch.equal(run.D.embed.weight, discriminator["embed.weight"])

    # Files for another network: random weights and the reason with "auto", an error otherwise.
    config = bigcolor_config(photo_folder, tmp_path / "other")
    config["model"]["channels"] = 16
    config["discriminator"]["weights"] = "none"
    other = BigColorTraining(config)
    assert "does not fit this network" in other.started_from["generator"]
    assert other.started_from["discriminator"].endswith("(configured)")
    config["model"]["generator_weights"] = "required"
    with pytest.raises(common.TrainingError, match="does not fit"):
        BigColorTraining(config)


def test_the_weights_manager_checks_biggan_files_by_loading_them(tmp_path, monkeypatch):
    for key, drive_id in (
        ("bigcolor-biggan-g", "197ypWuWcwKI3Mrq11jbCWkk-r_-cj2tT"),
        ("bigcolor-biggan-d", "1usoLZNnDzB3WLAphrGz5W2lJKxMMZJQw"),
    ):
        entry = weights.known(key)
        assert entry.purpose == "training" and entry.loader and entry.sha256 is None
        assert any(drive_id in url for url in entry.urls)
        assert weights.install_command(key) == f"python manage.py fetch_weights {key}"
    assert weights.known("vgg16").sha256_prefix == "397923af"

    files = tmp_path / "files"
    files.mkdir()
    _tiny_biggan_files(files)
    (files / "page.html").write_text("<html>Google Drive - virus scan warning</html>")
    # The checks expect the full-size networks; made tiny here to keep the files small.
    monkeypatch.setattr(biggan, "PRETRAINED_CONFIG", BigColorConfig(**BIGCOLOR_TINY))
    monkeypatch.setattr(biggan, "PRETRAINED_D_CHANNELS", 8)
    installed = tmp_path / "installed"
    install.import_file(files / "G_ema_256.pth", "bigcolor-biggan-g", dest_dir=installed)
    install.import_file(files / "D_256.pth", "bigcolor-biggan-d", dest_dir=installed)
    assert {p.name for p in installed.iterdir()} == {"G_ema_256.pth", "D_256.pth"}
    with pytest.raises(WeightsFetchError, match=r"page\.html is not G_ema_256\.pth"):
        install.import_file(files / "page.html", "bigcolor-biggan-g", dest_dir=installed)
    with pytest.raises(WeightsFetchError, match="lacks"):
        install.import_file(files / "D_256.pth", "bigcolor-biggan-g", dest_dir=installed)

    # A training file that nothing could verify is refused when it is registered.
    with pytest.raises(ValueError, match="need a SHA-256"):
        weights.register_weights(
            weights.WeightFile("unverifiable", "x.pth", "x", "MIT", purpose="training")
        )


def test_the_shipped_config_follows_the_official_recipe():
    root = Path(__file__).resolve().parents[2]
    config = common.load_config(root / "ml/train/configs/bigcolor.toml")
    train, data = config["train"], config["data"]
    assert (train["epochs"], train["batch_size"], train["amp"]) == (12, 60, True)
    assert (train["lr"], train["lr_d"], train["betas"], train["lr_decay"]) == (
        1e-4, 3e-5, [0.0, 0.999], 0.9,
    )  # fmt: skip
    assert (train["ema"], train["mse"], train["feature"], train["adversarial"]) == (
        0.999, 1.0, 0.2, 0.03,
    )  # fmt: skip
    assert train["vgg_layers"] == [1, 2, 13, 20] and train["colour_enhance"] == 1.2
    assert (data["size"], data["min_colourfulness"]) == (256, 15)
    model = BigColorConfig(**{k: config["model"][k] for k in ("channels", "shared_dim", "z_chunk")})
    assert model == BigColorConfig() and model.z_dim == 119
    assert config["discriminator"]["channels"] == 96
    assert config["output"]["model"] == "bigcolor-coloria"
    assert Path(config["output"]["export"]).name == weights.known("bigcolor-coloria").filename


@pytest.mark.slow
def test_two_process_data_parallel_bigcolor_training_on_cpu(photo_folder, tmp_path):
    config = bigcolor_config(photo_folder, tmp_path / "run", batch_size=4)
    done = torchrun_two_processes("bigcolor", config)
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(tmp_path / "run/checkpoints/step-0000002.pt", weights_only=False)
    assert state["step"] == 2 and state["ema"]["num_updates"] == 2
