"""Training the study's Keras CNN: 160 x 160 crops, MAE on RGB, Adam 1e-3, batch 60 (its setup).

Checkpoints are native `.keras` files (with the optimiser) plus a small JSON of the step and the
data generator's state, so a resumed run continues where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ml.color import Chroma, rgb_to_lab
from ml.models import keras_cnn
from ml.train import common, datasets


class CNNTraining(common.ResumableRun):
    """The shared loop (ResumableRun.run) with Keras underneath: one process, Keras's own
    checkpoint files."""

    label = "cnn"
    val_every = 200
    checkpoint_every = 100

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        train_cfg = config.get("train", {})
        self.batch_size = int(train_cfg.get("batch_size", 60))
        self.steps = int(train_cfg.get("steps", 1000))
        self.crop_scale = tuple(float(s) for s in train_cfg.get("crop_scale", (0.5, 1.0)))
        self.seed = int(train_cfg.get("seed", 0))
        self.out = Path(config.get("output", {}).get("dir", "runs/cnn"))
        self.dist = common.Distributed()  # one process: Keras trains without torchrun
        data_cfg = config.get("data", {})
        self.train_photos, self.val_photos = datasets.load_splits(data_cfg, short_side=320)
        if not self.train_photos:
            raise common.TrainingError(f"no colour photos in {data_cfg['train']}")
        keras_cnn.configure_tensorflow()
        keras = keras_cnn._keras()
        keras.utils.set_random_seed(self.seed)
        self.keras = keras
        self.rng = np.random.default_rng(self.seed)
        self.step = 0
        self.model = keras_cnn.compile_model(keras_cnn.build_model())
        self.log = common.CSVLog(
            self.out / "log.csv",
            ["step", "loss", "images_per_s", "val_delta_e00", "val_grey_delta_e00",
             "val_colourfulness", "val_truth_colourfulness"],
        )  # fmt: skip

    def batch(self) -> np.ndarray:
        picks = self.rng.integers(0, len(self.train_photos), self.batch_size)
        crops = [
            datasets.random_crop(self.train_photos[i], keras_cnn.SIZE, self.rng, self.crop_scale)
            for i in picks
        ]
        return np.stack(crops).astype(np.float32) / 255.0

    def train_step(self) -> dict[str, float]:
        (loss,) = keras_cnn.train_steps(self.model, self.batch(), 1, self.batch_size)
        self.step += 1
        return {"loss": float(loss)}

    def predict(self, gray: np.ndarray) -> Chroma:
        small = keras_cnn.network_input(keras_cnn.working_gray(gray))[None]
        rgb = np.clip(self.model.predict_on_batch(small)[0], 0.0, 1.0)
        return Chroma(ab=rgb_to_lab(rgb)[..., 1:])

    # --- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, *, wait: bool) -> None:
        self.save()

    def save(self) -> Path:
        folder = self.out / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"step-{self.step:07d}.keras"
        self.model.save(path)
        state = {"step": self.step, "data_rng": self.rng.bit_generator.state}
        path.with_suffix(".json").write_text(json.dumps(state))
        return path

    def resume(self) -> bool:
        found = sorted((self.out / "checkpoints").glob("step-*.keras"))
        if not found:
            return False
        self.model = self.keras.models.load_model(found[-1])
        state = json.loads(found[-1].with_suffix(".json").read_text())
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["data_rng"]
        return True

    def export(self, path: Path) -> Path:
        """The network alone (no optimiser state): what the site loads."""
        bare = keras_cnn.build_model()
        bare.set_weights(self.model.get_weights())
        path.parent.mkdir(parents=True, exist_ok=True)
        bare.save(path)
        return path
