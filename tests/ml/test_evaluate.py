"""ml.evaluate end to end: a tiny real network, three generated photos, every report checked."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from torch import nn

import ml
from ml import evaluate, metrics, registry, runtime
from ml.checkpoints import load_into
from ml.color import Chroma, gray_to_lightness
from ml.weights import KNOWN_WEIGHTS, WeightFile, register_weights
from tests.conftest import make_photo

TINY = "test-tiny"
TINY_FILE = "test-tiny.pth"
REPO = Path(__file__).resolve().parents[2]


class TinyNet(nn.Module):
    """L (0-100) to ab through two 1 x 1 convolutions: tiny, but a real network."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Conv2d(1, 8, kernel_size=1)
        self.out = nn.Conv2d(8, 2, kernel_size=1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(torch.tanh(self.hidden((lightness - 50) / 50)))) * 60


class TinyPredictor:
    """The predictor protocol of ml.runtime around TinyNet, at half resolution (so the shared
    pipeline's upsampling is exercised as for real models)."""

    def __init__(self, weights: Path, device: str, **options: Any) -> None:
        self.device = torch.device(device)
        self.net = TinyNet()
        load_into(self.net, weights)
        self.net.eval().to(self.device)

    @torch.inference_mode()
    def predict(self, gray: np.ndarray, **params: Any) -> Chroma:
        small = np.asarray(
            Image.fromarray(gray).resize((max(1, gray.shape[1] // 2), max(1, gray.shape[0] // 2)))
        )
        lightness = torch.from_numpy(gray_to_lightness(small))[None, None].to(self.device)
        ab = self.net(lightness)
        return Chroma(ab=ab[0].permute(1, 2, 0).cpu().numpy())


def save_tiny_weights(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    net = TinyNet()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.normal_(0, 1.5)  # bold weights, so the colours are far from grey
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def tiny_model(tmp_path: Path):
    """Register the tiny network as a model with its own weights folder; remove it afterwards."""
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    save_tiny_weights(weights_dir / TINY_FILE, seed=0)
    register_weights(
        WeightFile(key=TINY, filename=TINY_FILE, network=TINY, licence="MIT", official=False)
    )
    registry.register(
        registry.ModelSpec(
            key=TINY,
            family="test",
            name="Tiny test network",
            hint="two 1 x 1 convolutions",
            description="A network small enough for tests.",
            predictor=f"{__name__}:TinyPredictor",
            weights=TINY,
        )
    )
    ml.configure(weights_dir=weights_dir)
    yield weights_dir
    KNOWN_WEIGHTS.pop(TINY, None)
    registry._REGISTRY.pop(TINY, None)
    runtime.unload_all()


def write_photos(folder: Path, count: int = 3) -> list[Path]:
    """`count` colour photos of different sizes, plus a gray photo and a non-image to skip."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo{index}.png"
        make_photo(40 + 8 * index, 32 + 4 * index, mode="RGB", seed=index).save(path)
        paths.append(path)
    make_photo(30, 30, mode="L").save(folder / "zz-gray.png")
    (folder / "notes.txt").write_text("not a photo")
    return paths


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def column(rows: list[dict[str, str]], model: str, name: str) -> np.ndarray:
    return np.array([float(row[name]) for row in rows if row["model"] == model])


def test_cli_run_writes_every_report(tiny_model, tmp_path, capsys):
    write_photos(tmp_path / "photos")
    checkpoints = [
        save_tiny_weights(tmp_path / f"epoch_{epoch}.pth", seed=epoch) for epoch in (1, 2, 3)
    ]
    out = tmp_path / "out"
    argv = ["--models", TINY, "--images", str(tmp_path / "photos"), "--out", str(out)]
    argv += ["--checkpoints", *map(str, checkpoints), "--checkpoint-model", TINY, "--no-progress"]

    assert evaluate.main(argv) == 0

    assert "Reports written to" in capsys.readouterr().out
    rows = read_rows(out / "per_image.csv")
    assert len(rows) == 6
    assert [row["image"] for row in rows[:3]] == ["photo0.png", "photo1.png", "photo2.png"]
    assert {row["model"] for row in rows} == {evaluate.GREY_BASELINE, TINY}
    assert set(rows[0]) == {"image", "model", "width", "height", *metrics.METRICS, "seconds"}

    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == 3
    assert summary["skipped"] == [{"image": "zz-gray.png", "reason": "not a colour photo"}]
    assert list(summary["models"]) == [evaluate.GREY_BASELINE, TINY]
    tiny = summary["models"][TINY]
    assert set(tiny["metrics"]) == set(metrics.METRICS)
    assert tiny["timing"]["seconds_per_image_mean"] > 0
    assert tiny["timing"]["load_seconds"] > 0
    assert tiny["memory"]["peak_rss_mb"] > 0
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2, 3]
    assert summary["checkpoint_model"] == TINY

    markdown = (out / "summary.md").read_text()
    assert "## ΔE00: lower is better" in markdown and "## Time and memory" in markdown
    assert "ΔE00 per checkpoint of test-tiny" in markdown

    # One bar chart per model metric; the originals' colourfulness is a line in colourfulness.png.
    charts = {path.stem for path in (out / "plots").iterdir()}
    assert charts == set(metrics.METRICS) - {"colourfulness_truth"}
    pngs = [out / "plots" / f"{name}.png" for name in charts]
    pngs += [out / "samples" / f"{key}.png" for key in (evaluate.GREY_BASELINE, TINY)]
    pngs.append(out / "epochs.png")
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width > 200 and image.height > 200
    epochs = read_rows(out / "epochs.csv")
    assert [row["checkpoint"] for row in epochs] == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    # The checkpoint swap was temporary: the installed weights are looked up again.
    assert ml.config.settings.weights_dir == tiny_model


def test_summary_numbers_match_a_hand_computation(tiny_model, tmp_path):
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "out"
    evaluate.evaluate([TINY], tmp_path / "photos", out, seed=7, progress=False)

    rows = read_rows(out / "per_image.csv")
    summary = json.loads((out / "summary.json").read_text())
    resamples = np.random.default_rng(7).integers(0, 3, size=(1000, 3))
    grey_rows = {name: column(rows, evaluate.GREY_BASELINE, name) for name in metrics.METRICS}
    for model in (evaluate.GREY_BASELINE, TINY):
        for name in metrics.METRICS:
            values = column(rows, model, name)
            stats = summary["models"][model]["metrics"][name]
            assert stats["n"] == 3
            assert stats["mean"] == pytest.approx(sum(values) / 3, rel=1e-12)
            assert stats["median"] == pytest.approx(sorted(values)[1], rel=1e-12)
            low, high = np.percentile(values[resamples].mean(axis=1), [2.5, 97.5])
            assert (stats["ci_low"], stats["ci_high"]) == pytest.approx((low, high), rel=1e-12)
            assert stats["ci_low"] <= stats["mean"] <= stats["ci_high"]
            diff = summary["models"][model]["vs_grey"][name]
            assert diff["mean"] == pytest.approx(np.mean(values - grey_rows[name]), abs=1e-12)

    # One photo's grey-baseline ΔE00, worked out with scikit-image alone: the photo's luminance
    # (sRGB -> linear -> Rec. 709 Y -> sRGB), rounded to 8 bits, as a neutral RGB image.
    truth = np.asarray(Image.open(photos[1]).convert("RGB"))
    srgb = truth / 255.0
    linear = np.where(srgb > 0.04045, ((srgb + 0.055) / 1.055) ** 2.4, srgb / 12.92)
    y = linear @ np.array([0.212671, 0.715160, 0.072169])
    gray = np.where(y > 0.0031308, 1.055 * y ** (1 / 2.4) - 0.055, 12.92 * y)
    neutral = np.repeat(np.round(gray * 255).astype(np.uint8)[..., None], 3, axis=-1)
    expected = deltaE_ciede2000(rgb2lab(neutral), rgb2lab(truth)).mean()
    assert column(rows, evaluate.GREY_BASELINE, "delta_e00")[1] == pytest.approx(expected, rel=1e-9)

    # And the markdown table shows the same mean.
    mean = summary["models"][TINY]["metrics"]["delta_e00"]["mean"]
    assert f"| {TINY} | {mean:.3f} |" in (out / "summary.md").read_text()


def test_the_model_output_is_a_real_colorization(tiny_model, tmp_path):
    write_photos(tmp_path / "photos")
    summary = evaluate.evaluate([TINY], tmp_path / "photos", tmp_path / "out", progress=False)
    grey, tiny = summary.models[evaluate.GREY_BASELINE], summary.models[TINY]
    assert grey.metrics["colourfulness"].mean == pytest.approx(0.0, abs=1e-6)
    assert tiny.metrics["colourfulness"].mean > 5
    assert tiny.metrics["delta_e00"].mean != grey.metrics["delta_e00"].mean
    # Same lightness as the baseline: the network only changed colour.
    rows = read_rows(tmp_path / "out" / "per_image.csv")
    assert np.all(
        column(rows, TINY, "ab_error_share") > column(rows, "grey-baseline", "ab_error_share")
    )


def test_checkpoints_are_loaded_in_place_of_the_installed_weights(tiny_model, tmp_path):
    write_photos(tmp_path / "photos")
    other = save_tiny_weights(tmp_path / "other.pth", seed=5)
    summary = evaluate.evaluate(
        [TINY],
        tmp_path / "photos",
        tmp_path / "out",
        checkpoints=[tiny_model / TINY_FILE, other],
        progress=False,
    )
    installed = summary.models[TINY].metrics["delta_e00"].mean
    first, second = (epoch.metrics["delta_e00"].mean for epoch in summary.epochs)
    # A checkpoint that is the installed file reproduces the main run exactly; another differs.
    assert first == installed
    assert second != installed
    assert [epoch.epoch for epoch in summary.epochs] == [1, 2]  # names without distinct numbers


def test_same_inputs_give_the_same_numbers(tiny_model, tmp_path):
    write_photos(tmp_path / "photos")
    runs = []
    for name in ("a", "b"):
        evaluate.evaluate([TINY], tmp_path / "photos", tmp_path / name, progress=False)
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        rows = read_rows(tmp_path / name / "per_image.csv")
        runs.append(
            (
                {key: model["metrics"] for key, model in summary["models"].items()},
                [{k: v for k, v in row.items() if k != "seconds"} for row in rows],
            )
        )
    assert runs[0] == runs[1]


def test_photo_set_uses_its_val_split_and_limit(tiny_model, tmp_path):
    write_photos(tmp_path / "set" / "train", count=2)
    write_photos(tmp_path / "set" / "val" / "beach", count=3)
    out = tmp_path / "out"
    argv = ["--models", TINY, "--photo-set", str(tmp_path / "set"), "--out", str(out)]
    assert evaluate.main([*argv, "--limit", "2", "--samples", "1", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == ["beach/photo0.png", "beach/photo1.png"]
    assert summary["source"].endswith("val")


def test_photo_files_can_be_listed(tiny_model, tmp_path):
    photos = write_photos(tmp_path / "photos")
    argv = ["--models", TINY, "--images", str(photos[2]), str(photos[0])]
    assert evaluate.main([*argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["images"] == [str(photos[2]), str(photos[0])]


def test_all_installed_means_models_with_weights(tiny_model):
    installed = evaluate.installed_models()
    assert TINY in installed
    assert "zhang-siggraph17" not in installed  # not in this test's weights folder


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "no-such-model"], "Unknown model 'no-such-model'"),
        (["--models", "zhang-siggraph17"], "weights of Zhang SIGGRAPH17"),
        (["--checkpoints", "x.pth"], "name the model"),
        (["--checkpoints", "x.pth", "--checkpoint-model", TINY], "checkpoint(s) not found: x.pth"),
        (["--models", TINY, "--limit", "0"], "--limit must be 1 or more"),
        ([], "name models with --models"),
    ],
)
def test_cli_errors_are_explained(tiny_model, tmp_path, capsys, extra, message):
    write_photos(tmp_path / "photos")
    argv = ["--images", str(tmp_path / "photos"), "--out", str(tmp_path / "out"), *extra]
    assert evaluate.main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_out_folder_that_is_a_file_is_refused_before_scoring(tiny_model, tmp_path, capsys):
    write_photos(tmp_path / "photos")
    (tmp_path / "notes.txt").write_text("kept")
    argv = ["--models", TINY, "--images", str(tmp_path / "photos"), "--no-progress"]
    assert evaluate.main([*argv, "--out", str(tmp_path / "notes.txt")]) == 2
    captured = capsys.readouterr()
    assert f"error: {tmp_path / 'notes.txt'}: File exists" in captured.err
    assert "Traceback" not in captured.err and "grey-baseline" not in captured.out  # not scored
    assert (tmp_path / "notes.txt").read_text() == "kept"


def test_a_folder_without_colour_photos_is_an_error(tiny_model, tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    make_photo(30, 30, mode="L").save(tmp_path / "photos" / "gray.png")
    argv = ["--models", TINY, "--images", str(tmp_path / "photos"), "--out", str(tmp_path / "o")]
    assert evaluate.main(argv) == 2
    assert "no colour photos found" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_ml_evaluate_with_a_catalogue_model(random_weights_dir, tmp_path):
    """The module runs as a program, with a real catalogue model (random ECCV16 weights)."""
    write_photos(tmp_path / "photos", count=2)
    env = {**os.environ, "COLORIA_WEIGHTS_DIR": str(random_weights_dir), "COLORIA_DEVICE": "cpu"}
    command = [sys.executable, "-m", "ml.evaluate", "--models", "zhang-eccv16", "--images"]
    command += [str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--samples", "1"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| zhang-eccv16 |" in result.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["models"]) == [evaluate.GREY_BASELINE, "zhang-eccv16"]
    assert summary["device"] == "cpu"
    assert (tmp_path / "out" / "samples" / "zhang-eccv16.png").is_file()


def test_photos_are_scored_as_people_see_them(tiny_model, tmp_path):
    """The truth is the EXIF-oriented photo: a portrait shot stored sideways is scored upright."""
    (tmp_path / "photos").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    make_photo(40, 24, mode="RGB").save(tmp_path / "photos" / "sideways.jpg", exif=exif)
    evaluate.evaluate([TINY], tmp_path / "photos", tmp_path / "out", samples=0, progress=False)
    rows = read_rows(tmp_path / "out" / "per_image.csv")
    assert {(row["width"], row["height"]) for row in rows} == {("24", "40")}
    assert not (tmp_path / "out" / "samples" / f"{TINY}.png").exists()
