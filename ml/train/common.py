"""What every training pipeline shares: configuration, seeds, resumable checkpoints, logs,
validation on held-out photos, and data parallelism across processes and machines (torchrun)."""

from __future__ import annotations

import collections
import csv
import math
import os
import random
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml import metrics
from ml.color import compose, to_gray


class TrainingError(Exception):
    """A training run cannot start or continue; the message says why."""


# Settings read only once training is over, to export the weights and write their card.
READ_AFTER_TRAINING = ("output.export", "output.model", "card.data", "card.attributions")


class Settings(dict):
    """A config table that notes which settings the pipeline reads. Every pipeline reads all of
    its settings before its first step, so one still unread then is one it does not know (a typo
    such as `stepz`, or another family's setting): `refuse_unknown_settings` stops the run there
    instead of letting it train for hours on a default. Pickles (into checkpoints) as a dict."""

    def __init__(self, data: dict[str, Any], name: str = "", log: list | None = None) -> None:
        self.name = name
        self.checked = False  # set by refuse_unknown_settings
        self.log = log if log is not None else []  # (dotted name, value) of each read, shared
        super().__init__({key: self._wrap(key, value) for key, value in data.items()})

    def _dotted(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return Settings(value, self._dotted(key), self.log)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return [Settings(v, f"{self._dotted(key)}[{i}]", self.log) for i, v in enumerate(value)]
        return value

    def _note(self, key: str) -> None:
        self.log.append((self._dotted(key), super().get(key)))

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def __iter__(self):  # handing the whole table on (dict(t), **t) reads all of it
        for key in dict.__iter__(self):
            self._note(key)
        return super().__iter__()

    def keys(self):
        return list(iter(self))

    def items(self):
        return [(key, self[key]) for key in self]

    def __reduce__(self):
        return dict, (dict(super().items()),)

    def unread(self) -> list[str]:
        read = {name for name, _ in self.log}
        found = []
        for key, value in super().items():
            tables = value if isinstance(value, list) else [value]  # _wrap made these Settings
            if any(isinstance(table, Settings) for table in tables):
                found += [name for table in tables for name in table.unread()]
            elif self._dotted(key) not in read:
                found.append(self._dotted(key))
        return found

    def last_read(self) -> str:
        """`name = value` of the setting read last (the one a conversion error is about)."""
        if not self.log:
            return "none"
        name, value = self.log[-1]
        return f"{name} = {value!r}"


def refuse_unknown_settings(config: dict[str, Any]) -> None:
    """Raise TrainingError naming the settings nothing read (call before the first step)."""
    if not isinstance(config, Settings):
        return  # a plain dict built in code, not a file a person typed
    unknown = [name for name in config.unread() if name not in READ_AFTER_TRAINING]
    config.checked = not unknown
    if unknown:
        raise TrainingError(
            f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            "this pipeline does not use "
            f"{'them' if len(unknown) > 1 else 'it'} (a typo? see the configs in ml/train/configs/)"
        )


def load_config(path: Path | str, overrides: list[str] | None = None) -> Settings:
    """A TOML config, with `section.key=value` overrides from the command line."""
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TrainingError(f"cannot read config {path}: {exc}") from exc
    for item in overrides or []:
        dotted, _, raw = item.partition("=")
        if not raw:
            raise TrainingError(f"override {item!r} is not of the form section.key=value")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare string
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return Settings(config)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run plainly)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        return cls(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def pick_device(preference: str = "auto", local_rank: int = 0) -> str:
    import torch

    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda":
        return f"cuda:{local_rank}"
    return preference


def rng_state() -> dict[str, Any]:
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """`step-XXXXXXX.pt` files in a run folder, each a complete resumable state."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def save(self, step: int, state: dict[str, Any]) -> Path:
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step-{step:07d}.pt"
        partial = path.with_suffix(".pt.part")
        torch.save(state, partial)
        os.replace(partial, path)  # a crash mid-save never leaves a broken "latest"
        return path

    def latest(self) -> Path | None:
        found = sorted(self.folder.glob("step-*.pt"))
        return found[-1] if found else None

    def load(self, path: Path) -> dict[str, Any]:
        import torch

        # Our own checkpoints hold optimiser and RNG state (numpy arrays, tuples): trusted files.
        return torch.load(path, map_location="cpu", weights_only=False)


class CSVLog:
    """Appends rows to a CSV file; a resumed run continues the same file."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = Path(path)
        self.columns = columns
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with self.path.open("w", newline="") as handle:
                csv.writer(handle).writerow(columns)

    def write(self, **row: Any) -> None:
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow([_fmt(row.get(c, "")) for c in self.columns])


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


@dataclass
class Validation:
    """Figures on held-out photos: the model against the leave-it-grey baseline."""

    delta_e00: float
    grey_delta_e00: float
    colourfulness: float
    truth_colourfulness: float
    count: int
    samples: list[Image.Image] = field(default_factory=list, repr=False)
    psnr: float = float("nan")
    grey_psnr: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {
            "val_delta_e00": self.delta_e00,
            "val_grey_delta_e00": self.grey_delta_e00,
            "val_colourfulness": self.colourfulness,
            "val_truth_colourfulness": self.truth_colourfulness,
            "val_psnr": self.psnr,
            "val_grey_psnr": self.grey_psnr,
        }

    def figures(self) -> dict[str, float | int]:
        """The figures under plain names, as written into a weights card."""
        return {k.removeprefix("val_"): round(v, 4) for k, v in self.as_dict().items()} | {
            "photos": self.count
        }

    @property
    def clears_the_bar(self) -> bool:
        """Better than grey on ΔE00 while keeping at least half the true colourfulness."""
        return (
            self.delta_e00 < self.grey_delta_e00
            and self.colourfulness >= 0.5 * self.truth_colourfulness
        )


def validate(
    predict: Callable[[np.ndarray], Any], photos: list[np.ndarray], *, samples: int = 6
) -> Validation:
    """Colorize each photo's gray version with `predict(gray) -> Chroma` and score it."""
    scores, grey_scores, colour, truth_colour, sample_images = [], [], [], [], []
    psnrs, grey_psnrs = [], []
    for index, truth in enumerate(photos):
        gray = to_gray(Image.fromarray(truth))
        output = np.asarray(compose(gray, predict(gray)))
        grey = metrics.grey_baseline(truth)
        scores.append(metrics.delta_e00(output, truth))
        grey_scores.append(metrics.delta_e00(grey, truth))
        psnrs.append(metrics.psnr(output, truth))
        grey_psnrs.append(metrics.psnr(grey, truth))
        colour.append(metrics.colourfulness(output))
        truth_colour.append(metrics.colourfulness(truth))
        if index < samples:
            sample_images.append(_triptych(gray, output, truth))
    return Validation(
        delta_e00=float(np.mean(scores)),
        grey_delta_e00=float(np.mean(grey_scores)),
        colourfulness=float(np.mean(colour)),
        truth_colourfulness=float(np.mean(truth_colour)),
        count=len(photos),
        samples=sample_images,
        psnr=float(np.mean(psnrs)),
        grey_psnr=float(np.mean(grey_psnrs)),
    )


def _triptych(gray: np.ndarray, output: np.ndarray, truth: np.ndarray) -> Image.Image:
    gray_rgb = np.repeat((np.clip(gray, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=-1)
    return Image.fromarray(np.concatenate([gray_rgb, output, truth], axis=1))


def save_samples(images: list[Image.Image], path: Path) -> None:
    if not images:
        return
    width = max(i.width for i in images)
    sheet = Image.new("RGB", (width, sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


class Throughput:
    """Images per second over the last `window` steps (a mean since the start hides slowing)."""

    def __init__(self, window: int = 50) -> None:
        self.recent = collections.deque([(time.perf_counter(), 0)], maxlen=window + 1)

    def add(self, count: int) -> float:
        self.recent.append((time.perf_counter(), count))
        images = sum(count for _, count in list(self.recent)[1:])
        return images / max(self.recent[-1][0] - self.recent[0][0], 1e-9)


class ResumableRun:
    """What the PyTorch training runs share: resuming from the latest checkpoint, validating on
    the main process, exporting fp16 weights. Subclasses provide state/restore/predict."""

    checkpoints: Checkpoints
    dist: Distributed
    out: Path
    step: int
    rng: np.random.Generator
    config: dict[str, Any]
    train_photos: list[np.ndarray]
    val_photos: list[np.ndarray]

    def start(self, train_cfg: dict[str, Any]) -> None:
        """Seed, this process's place and device in a torchrun job, and mixed precision (CUDA)."""
        import torch

        self.seed = int(train_cfg.get("seed", 0))
        preference = train_cfg.get("device", "auto")
        self.dist = Distributed.from_environment(pick_device(preference))
        self.device = torch.device(pick_device(preference, self.dist.local_rank))
        self.amp = bool(train_cfg.get("amp", True)) and self.device.type == "cuda"
        seed_everything(self.seed + self.dist.rank)

    def backward(self, loss: Any, optimizer: Any) -> None:
        """One optimiser step on `loss`, through the mixed-precision scaler (no-op without AMP)."""
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def open_run(self, log_columns: list[str]) -> None:
        """Step 0, the data generator (one stream per process), the checkpoint folder and the
        CSV log of `log_columns` (step, figures, validation), in the run's output folder."""
        self.rng = np.random.default_rng(self.seed + 1000 * self.dist.rank)
        self.step = 0
        self.checkpoints = Checkpoints(self.out / "checkpoints")
        self.log = CSVLog(self.out / "log.csv", log_columns)

    VALIDATION_COLUMNS = ["val_delta_e00", "val_grey_delta_e00", "val_colourfulness",
                          "val_truth_colourfulness"]  # fmt: skip

    def parallel(self, network: Any, **options: Any) -> Any:
        """`network` wrapped for data parallelism when torchrun started several processes (its
        gradients are averaged across them), else itself."""
        if self.dist.world_size == 1:
            return network
        import torch

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids, **options)

    def load_photos(self, data_cfg: dict[str, Any], *, short_side: int) -> None:
        """The training and validation photos; an error when there is nothing to learn from."""
        from ml.train import datasets

        self.train_photos, self.val_photos = datasets.load_splits(data_cfg, short_side=short_side)
        if not self.train_photos:
            raise TrainingError(f"no colour photos in {data_cfg['train']}")

    # What a checkpoint holds besides the progress: key in the checkpoint -> attribute, each an
    # object with state_dict()/load_state_dict() (network, optimiser, scheduler, scaler) or a
    # torch.Generator (its random state).
    saved: dict[str, str] = {}

    def state(self) -> dict[str, Any]:
        import torch

        state = self.progress_state()
        for key, name in self.saved.items():
            part = getattr(self, name)
            state[key] = (
                part.get_state() if isinstance(part, torch.Generator) else part.state_dict()
            )
        return state

    def restore(self, state: dict[str, Any]) -> None:
        import torch

        for key, name in self.saved.items():
            part = getattr(self, name)
            if isinstance(part, torch.Generator):
                part.set_state(state[key])
            else:
                part.load_state_dict(state[key])
        self.restore_progress(state)

    def progress_state(self) -> dict[str, Any]:
        """Where the run is, for its checkpoint: the step, the random states (torch, numpy,
        Python, and the run's own data generator `rng`) and the configuration."""
        return {
            "step": self.step,
            "rng": rng_state(),
            "data_rng": self.rng.bit_generator.state,
            "config": self.config,
        }

    def restore_progress(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        restore_rng_state(state["rng"])
        self.rng.bit_generator.state = state["data_rng"]

    def predict(self, gray: np.ndarray) -> Any:
        raise NotImplementedError

    def resume(self) -> bool:
        latest = self.checkpoints.latest()
        if latest is None:
            return False
        self.restore(self.checkpoints.load(latest))
        return True

    def validate(self) -> Validation | None:
        if not self.val_photos or not self.dist.is_main:
            return None
        return validate(self.predict, self.val_photos)

    def validate_with_samples(self) -> Validation | None:
        """Validate (main process only) and save this step's sample sheet beside the log."""
        figures = self.validate()
        if figures is not None:
            save_samples(figures.samples, self.out / f"samples/step-{self.step:07d}.png")
        return figures

    # --- the loop ---------------------------------------------------------------------------
    # A family provides `label` (the progress bar's), `steps`, `batch_size`, `log` (a CSVLog)
    # and `train_step() -> {"loss": ..., other log columns}`; the hooks below have defaults.
    label = "training"
    log_every = 10
    val_every = 500
    checkpoint_every = 250
    steps: int
    batch_size: int
    log: CSVLog

    def train_step(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def total_steps(self) -> int:
        return self.steps

    def step_images(self) -> int:
        """Images the step just taken trained on (in this process)."""
        return self.batch_size

    def boundary(self) -> bool:
        """Whether the step just taken ended a stage or an epoch: validate and save there."""
        return False

    def checkpoint_interval(self, configured: int) -> int:
        return configured

    def announce(self) -> None:
        """Say, before the first step, what the run starts from (main process only)."""

    def origins(self) -> dict[str, Any]:
        """What the weights began as, for the outcome and the card."""
        return {}

    def run(self, *, progress: bool = True) -> dict[str, Any]:
        """Train to `total_steps` from the latest checkpoint: log every `log_every` steps (the
        mean of each number since the last row), validate every `val_every` steps, at
        boundaries and at the end, and save a checkpoint likewise. Returns the outcome (the
        losses of each step, the last validation, what the weights started from)."""
        from tqdm import tqdm

        train_cfg = self.config.get("train", {})
        log_every = int(train_cfg.get("log_every", self.log_every))
        val_every = int(train_cfg.get("val_every", self.val_every))
        checkpoint_every = int(train_cfg.get("checkpoint_every", self.checkpoint_every))
        refuse_unknown_settings(self.config)
        outcome: dict[str, Any] = {"resumed": self.resume(), "start_step": self.step}
        outcome.update(self.origins())
        if self.dist.is_main:
            self.announce()
        throughput = Throughput()
        bar = tqdm(
            total=self.total_steps, initial=self.step,
            disable=not (progress and self.dist.is_main), desc=self.label, unit="step",
        )  # fmt: skip
        history: list[dict[str, Any]] = []
        while self.step < self.total_steps:
            figures = self.train_step()
            history.append(figures)
            speed = throughput.add(self.step_images() * self.dist.world_size)
            bar.update(1)
            bar.set_postfix(_postfix(figures, speed))
            if not all(math.isfinite(v) for v in figures.values() if isinstance(v, float)):
                raise TrainingError(f"the loss became {figures} at step {self.step}")
            at_end = self.step == self.total_steps
            at_boundary = at_end or self.boundary()
            row: dict[str, Any] = {}
            if self.step % val_every == 0 or at_boundary:
                validation = self.validate_with_samples()
                if validation is not None:
                    row.update(validation.as_dict())
                    outcome["validation"] = validation
            if self.dist.is_main and (row or self.step % log_every == 0):
                self.log.write(step=self.step, images_per_s=speed,
                               **_recent_means(history[-log_every:]), **row)  # fmt: skip
            interval = self.checkpoint_interval(checkpoint_every)
            if self.step % interval == 0 or at_boundary:
                self.save_checkpoint(wait=not at_end)
        bar.close()
        for key in {key for figures in history for key in figures if key.endswith("loss")}:
            outcome[f"{key}es"] = [figures.get(key, math.nan) for figures in history]
        outcome.update(step=self.step, images_per_s=throughput.add(0))
        return outcome

    def save_checkpoint(self, *, wait: bool) -> None:
        """The main process saves this step's checkpoint; with `wait`, every process waits for
        it, so that none runs ahead of a checkpoint it could be resumed from."""
        if self.dist.is_main:
            self.checkpoints.save(self.step, self.state())
        if wait:
            self.dist.barrier()


def _postfix(figures: dict[str, Any], speed: float) -> dict[str, str]:
    shown = {k: f"{v:.4f}" for k, v in figures.items() if k.endswith("loss")}
    shown |= {k: str(v) for k, v in figures.items() if isinstance(v, str | int)}
    return shown | {"img_s": f"{speed:.1f}"}


def _recent_means(recent: list[dict[str, Any]]) -> dict[str, Any]:
    """Each float figure's mean over the recent steps; other figures (a phase, a size, an epoch)
    as the last step had them."""
    last = recent[-1]
    return {
        key: float(np.mean([f.get(key, math.nan) for f in recent]))
        if isinstance(value, float)
        else value
        for key, value in last.items()
    }


def export_fp16(state_dict: dict[str, Any], path: Path, *, wrapper: str | None = None) -> Path:
    """Save a state_dict in fp16 (half the size; loading converts back to fp32), optionally
    wrapped as {wrapper: state} the way the official files of a family are."""
    from ml.checkpoints import save_half

    return save_half(state_dict, path, wrapper=wrapper)
