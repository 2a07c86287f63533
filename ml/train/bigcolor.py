"""Training BigColor as the official release trains it (Kim et al., ECCV 2022, `train.py`).

The recipe (the release's train.py, utils/losses.py and scripts/train_v1.0.0.sh):

- data: 256 px centre crops (resize the short side, crop the middle) of colour photos; photos whose
  crop has a colourfulness below 15 are left out (the official list_low_colorful.csv);
- 12 epochs of batch 60 (split across processes), mixed precision on CUDA;
- encoder + generator (E+G) trained with Adam (betas 0, 0.999), lr 1e-4; the projection
  discriminator D with Adam (0, 0.999), lr 3e-5; both learning rates x 0.9 after every epoch;
- E+G loss: 1 x MSE + 0.2 x VGG16 feature MSE + 0.03 x hinge adversarial. The MSE and the VGG
  features compare the output mapped to [0, 1] with the colour photo in [0, 1] (the official
  `loss_fn_g` maps the output with (x + 1) / 2 first); the feature loss is the official
  VGG16Perceptual: the central 224/256 of both images, ImageNet-normalised, MSE at VGG16
  features 1, 2, 13 and 20 averaged over those layers and divided by the batch size of the process;
- D loss: hinge, (mean relu(1 - D(real)) + mean relu(1 + D(fake))) / 2, on [-1, 1] images; the
  real photos are shown to D with their colour enhanced x 1.2 (blended away from their gray);
- an exponential moving average of every E+G parameter (decay 0.999 with torch-ema's warm-up,
  which the official run uses); the averaged weights are the ones exported and validated;
- inputs: the gray photo in [0, 1] (one channel) and z ~ N(0, 0.8^2) of the network's z_dim.

Starting points. E starts from orthogonal random weights, as officially. G and D start from the
BigGAN-256 files the official run starts from (`fetch_weights bigcolor-biggan-g bigcolor-biggan-d`)
when they are installed and fit the network; otherwise from orthogonal random weights, which the
log and the weights card say. The VGG16 of the feature loss is torchvision's ImageNet VGG16
(`fetch_weights vgg16`; the release ships a pickled VGG16, never unpickled here, whose layer
indices are torchvision's) or, without it, the same network with fixed, seeded random weights
(random convolutional features still measure local structure; a weaker but real signal).

Classes. BigColor is conditioned on an ImageNet class, and the official run used ImageNet's
labels. Coloria's photos have none, so by default (`classes = "auto"`) each crop is labelled with
the top class of the installed ImageNet classifier on its gray version (what the predictor does at
inference), or, with no classifier installed, with the class the predictor falls back to first
(979, valley). `classes = "folders"` takes the labels from an ImageNet-style folder of 1000 class
folders (sorted, as torchvision's ImageFolder numbers them), and a class number or name fixes one
class for every photo. The log and the card say which.

Small networks (BigColorConfig's channels, shared_dim, z_chunk, and the discriminator's channels)
make CPU runs possible; BigColorPredictor takes the same values as options. The crops are kept in
memory (196 kB each at 256 px), as in Coloria's other pipelines: train on a subset of ImageNet
rather than all of it.

Differences from the official script, on purpose: the gray input is Coloria's (ml.color.to_gray,
the sRGB-encoded luminance) rather than torchvision's luma, so training sees what inference sees;
D judges the real and the fake batch in one forward (one power iteration per step instead of two);
the learning rates decay by 0.9 after each epoch (the official `scheduler.step(epoch)` lags one
epoch behind); the parts of G that BigColor never runs (`linear`, blocks 0 and 1) are frozen
rather than left without gradients.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml import classify, imagenet, metrics
from ml import weights as weights_manager
from ml.checkpoints import read_state_dict
from ml.color import Chroma, open_image, rgb_to_lab, to_gray
from ml.errors import WeightsInvalid
from ml.models.bigcolor import (
    FIRST_USED_BLOCK,
    NUM_CLASSES,
    BigColor,
    BigColorConfig,
    latent,
    model_input,
    parameter_names,
)
from ml.train import common, datasets
from ml.train.biggan import (
    SIZE_MULTIPLE,
    Discriminator,
    check_fits,
    discriminator_shapes,
    generator_shapes,
    orthogonal_init,
    read_biggan_state,
)
from ml.train.colour_loss import enhance_colour, luminance_gray
from ml.train.gan import ParameterEMA
from ml.train.perceptual import VGG_LAYERS, VGGFeatureLoss

GENERATOR_WEIGHTS = "bigcolor-biggan-g"
DISCRIMINATOR_WEIGHTS = "bigcolor-biggan-d"
VGG_WEIGHTS = "vgg16"


# --- The discriminator ----------------------------------------------------------------------------


# --- Checking and loading the BigGAN files --------------------------------------------------------


# --- Images and losses ----------------------------------------------------------------------------


# --- Data -----------------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    crops: list[np.ndarray]  # uint8 (size, size, 3) centre crops
    classes: np.ndarray  # int64, one ImageNet class per crop
    excluded: int  # photos whose crop fell below the colourfulness floor
    labelling: str  # how the classes were chosen, for the log and the card
    fixed_class: int | None  # the class of every photo when one is fixed


def load_training_set(data_cfg: dict[str, Any], *, device: str = "cpu") -> TrainingSet:
    """Centre crops of the training photos above the colourfulness floor, with their classes."""
    size = int(data_cfg.get("size", 256))
    if size % SIZE_MULTIPLE:
        raise common.TrainingError(
            f"data.size must be a multiple of {SIZE_MULTIPLE} (the discriminator halves it six "
            f"times), not {size}"
        )
    floor = float(data_cfg.get("min_colourfulness", 15.0))
    root = Path(data_cfg["train"])
    paths = datasets.list_images(root)
    crops, kept, excluded = [], [], 0
    for path in paths:
        try:
            photo = np.asarray(open_image(path).convert("RGB"))
        except Exception:  # noqa: S112 - an unreadable file is skipped, not fatal
            continue
        crop = datasets.centre_crop(photo, size)
        # Measured on the crop the network sees; gray photos (0) count among those left out.
        if metrics.colourfulness(crop) < floor:
            excluded += 1
            continue
        crops.append(crop)
        kept.append(path)
    if not crops:
        raise common.TrainingError(
            f"no colour photos in {root} with colourfulness >= {floor:g} "
            f"({excluded} below it): lower data.min_colourfulness or add colourful photos"
        )
    classes, labelling, fixed = _label(data_cfg.get("classes", "auto"), root, kept, crops, device)
    return TrainingSet(crops, np.asarray(classes, dtype=np.int64), excluded, labelling, fixed)


def _label(
    choice: Any, root: Path, paths: list[Path], crops: list[np.ndarray], device: str
) -> tuple[list[int], str, int | None]:
    if choice == "folders":
        folders = sorted(p.name for p in root.iterdir() if p.is_dir())
        if len(folders) != NUM_CLASSES:
            raise common.TrainingError(
                f"data.classes = 'folders' needs ImageNet's layout, {NUM_CLASSES} class folders "
                f"below {root} (numbered in sorted order); found {len(folders)}"
            )
        index = {name: i for i, name in enumerate(folders)}
        labels = []
        for path in paths:
            head = path.relative_to(root).parts[0]
            if head not in index:
                raise common.TrainingError(f"{path} is not inside one of the class folders")
            labels.append(index[head])
        return labels, "ImageNet labels from the class folders (sorted, as ImageFolder)", None
    if choice == "auto":
        classifier = classify.installed_classifier()
        if classifier is not None:
            labels = [
                classify.rank_classes(to_gray(Image.fromarray(crop)), 1, device=device)[0]
                for crop in crops
            ]
            return (
                labels,
                f"top-1 class of the installed ImageNet classifier {classifier} on each gray "
                "crop (the predictor's automatic class)",
                None,
            )
        fixed = classify.FALLBACK_CLASSES[0]
        return (
            [fixed] * len(crops),
            f"fixed class {imagenet.class_label(fixed)} for every photo: no ImageNet classifier "
            "installed, and this is the predictor's first automatic class without one",
            fixed,
        )
    try:
        fixed = imagenet.parse_class(choice)
    except ValueError as exc:
        raise common.TrainingError(
            f"data.classes must be 'auto', 'folders' or an ImageNet class, not {choice!r} ({exc})"
        ) from exc
    return [fixed] * len(crops), f"fixed class {imagenet.class_label(fixed)} (configured)", fixed


# --- The run --------------------------------------------------------------------------------------


class BigColorTraining(common.ResumableRun):
    """One BigColor training run, resumable from its last checkpoint."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        model_cfg = config.get("model", {})
        train_cfg = config.get("train", {})
        d_cfg = config.get("discriminator", {})
        self.out = Path(config.get("output", {}).get("dir", "runs/bigcolor"))
        try:
            self.model_config = BigColorConfig(
                channels=int(model_cfg.get("channels", 96)),
                shared_dim=int(model_cfg.get("shared_dim", 128)),
                z_chunk=int(model_cfg.get("z_chunk", 17)),
            )
        except (TypeError, ValueError) as exc:
            raise common.TrainingError(f"bad [model] section: {exc}") from exc
        self.d_channels = int(d_cfg.get("channels", self.model_config.channels))
        self.start(train_cfg)

        self._load_data(config.get("data", {}), train_cfg)
        self.z_std = float(train_cfg.get("z_std", 0.8))
        self.enhance = float(train_cfg.get("colour_enhance", 1.2))
        self.weight_mse = float(train_cfg.get("mse", 1.0))
        self.weight_feature = float(train_cfg.get("feature", 0.2))
        self.weight_adversarial = float(train_cfg.get("adversarial", 0.03))
        self.val_side = int(train_cfg.get("val_side", 256))
        self._build_networks(model_cfg, d_cfg)
        self._build_feature_loss(train_cfg)
        self._build_optimisers(train_cfg)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step = 0
        self.checkpoints = common.Checkpoints(self.out / "checkpoints")
        self.log = common.CSVLog(
            self.out / "log.csv",
            ["step", "epoch", "loss", "mse", "feature", "adversarial", "d_loss", "lr", "lr_d",
             "images_per_s", "val_delta_e00", "val_grey_delta_e00", "val_colourfulness",
             "val_truth_colourfulness"],
        )  # fmt: skip
        self._wrapped: tuple[nn.Module, nn.Module] | None = None
        self._eval_net: BigColor | None = None

    def _load_data(self, data_cfg: dict[str, Any], train_cfg: dict[str, Any]) -> None:
        """The photos (classes labelled), the validation photos, and the epochs they make."""
        self.data = load_training_set(data_cfg, device=str(self.device))
        self.train_photos = self.data.crops
        val_folder = data_cfg.get("val")
        val = datasets.load_photos(datasets.list_images(val_folder), 256) if val_folder else []
        self.val_photos = val[: int(data_cfg.get("val_limit", 100))]
        self.batch_size = int(train_cfg.get("batch_size", 60))  # over all processes
        if self.batch_size % self.dist.world_size:
            raise common.TrainingError(
                f"train.batch_size {self.batch_size} must divide among {self.dist.world_size} "
                "processes"
            )
        self.steps_per_epoch = len(self.data.crops) // self.batch_size  # the last partial dropped
        if self.steps_per_epoch == 0:
            raise common.TrainingError(
                f"{len(self.data.crops)} usable photos cannot fill one batch of {self.batch_size}"
            )
        self.epochs = int(train_cfg.get("epochs", 12))
        planned = self.epochs * self.steps_per_epoch
        max_steps = train_cfg.get("max_steps")
        self.last_step = min(planned, int(max_steps)) if max_steps else planned

    def _build_networks(self, model_cfg: dict[str, Any], d_cfg: dict[str, Any]) -> None:
        # The same initial weights in every process (and for any number of processes), so that
        # the averaged copy starts equal everywhere; then each process its own random stream.
        common.seed_everything(self.seed)
        self.net = BigColor(self.model_config)
        self.D = Discriminator(self.d_channels)
        orthogonal_init(self.net.E)  # G and D: by _start, unless they start from BigGAN
        self.started_from = {
            "encoder": "random orthogonal initialisation (the official encoder starts untrained)",
            "generator": self._start(
                self.net.G, GENERATOR_WEIGHTS, model_cfg.get("generator_weights", "auto"),
                generator_shapes(self.model_config), read_biggan_state,
            ),
            "discriminator": self._start(
                self.D, DISCRIMINATOR_WEIGHTS, d_cfg.get("weights", "auto"),
                discriminator_shapes(self.d_channels), read_state_dict,
            ),
        }  # fmt: skip
        common.seed_everything(self.seed + self.dist.rank)
        # BigColor never runs G's `linear` and first two blocks (the encoder feeds block 2): kept
        # for the official keys, frozen so that no optimiser or process waits for their gradients.
        self.net.G.linear.requires_grad_(False)
        self.net.G.blocks[:FIRST_USED_BLOCK].requires_grad_(False)
        self.net.to(self.device)
        self.D.to(self.device)

    def _build_feature_loss(self, train_cfg: dict[str, Any]) -> None:
        vgg_layers = tuple(int(i) for i in train_cfg.get("vgg_layers", VGG_LAYERS))
        if not vgg_layers or not all(0 <= i <= 30 for i in vgg_layers):
            raise common.TrainingError(
                f"train.vgg_layers must be indices of VGG16's 31 feature layers, not {vgg_layers}"
            )
        vgg_key = train_cfg.get("vgg_weights", VGG_WEIGHTS)
        vgg_path = None if vgg_key in ("", "none") else weights_manager.weights_path(vgg_key)
        self.feature_loss = VGGFeatureLoss(vgg_layers, vgg_path, seed=self.seed).to(self.device)
        self.started_from["feature_loss"] = self.feature_loss.source

    def _build_optimisers(self, train_cfg: dict[str, Any]) -> None:
        betas = tuple(float(b) for b in train_cfg.get("betas", (0.0, 0.999)))
        d_betas = tuple(float(b) for b in train_cfg.get("betas_d", betas))
        self.lr, self.lr_d = float(train_cfg.get("lr", 1e-4)), float(train_cfg.get("lr_d", 3e-5))
        self.opt_g = torch.optim.Adam(
            [p for p in self.net.parameters() if p.requires_grad], lr=self.lr, betas=betas
        )
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.lr_d, betas=d_betas)
        decay = float(train_cfg.get("lr_decay", 0.9))  # per epoch
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma=decay)
        self.sched_d = torch.optim.lr_scheduler.ExponentialLR(self.opt_d, gamma=decay)
        self.ema = ParameterEMA(list(self.net.parameters()), float(train_cfg.get("ema", 0.999)))

    # --- set-up ---------------------------------------------------------------------------------
    def _start(
        self,
        network: nn.Module,
        key: str,
        choice: str,
        expected: dict[str, tuple[int, ...]],
        read: Callable[[Path], dict[str, torch.Tensor]],
    ) -> str:
        """Load the BigGAN file `key` into `network` when wanted and it fits, else initialise it
        at random; say which. choice: "auto" (the file when installed and fitting), "required"
        (an error without it) or "none"."""
        if choice not in ("auto", "required", "none"):
            raise common.TrainingError(f"{key}: weights must be auto, required or none")
        reason = "configured"
        path = None if choice == "none" else weights_manager.weights_path(key)
        if choice != "none" and path is None:
            entry = weights_manager.known(key)
            reason = f"{entry.filename} not installed: {weights_manager.install_command(key)}"
            if choice == "required":
                raise common.TrainingError(reason)
        if path is not None:
            try:
                state = read(path)
                ignored = check_fits(state, expected, path.name)
            except WeightsInvalid as exc:
                if choice == "required":
                    raise common.TrainingError(str(exc)) from exc
                reason = f"the installed file does not fit this network: {exc}"
                path = None
        if path is None:
            orthogonal_init(network)
            return f"random orthogonal initialisation ({reason})"
        # Non-strict, as officially: BigGAN's file has no instance norms, and may hold more.
        network.load_state_dict({k: state[k] for k in expected}, strict=False)
        extra = f", {len(ignored)} tensors of the file unused" if ignored else ""
        return f"BigGAN-256 ({path.name}{extra})"

    def _models(self) -> tuple[nn.Module, nn.Module]:
        """E+G and D as the steps call them: DDP-wrapped in a torchrun job."""
        if self._wrapped is None:
            self._wrapped = (self.parallel(self.net), self.parallel(self.D))
        return self._wrapped

    # --- data -----------------------------------------------------------------------------------
    def batch_indices(self, step: int) -> np.ndarray:
        """This process's share of the batch at `step`: each epoch is a permutation fixed by the
        seed and the epoch (like DistributedSampler), so resuming needs no data state."""
        epoch, within = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.data.crops))
        chosen = order[within * self.batch_size : (within + 1) * self.batch_size]
        return chosen[self.dist.rank :: self.dist.world_size]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(colour photos (n, 3, size, size) in [0, 1], their classes (n,))."""
        picks = self.batch_indices(step)
        crops = np.stack([self.data.crops[i] for i in picks])
        rgb = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255).to(self.device)
        classes = torch.from_numpy(self.data.classes[picks]).to(self.device)
        return rgb, classes

    # --- steps ----------------------------------------------------------------------------------
    def reconstruction_loss(
        self, output: torch.Tensor, rgb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MSE and VGG feature loss of output and photo, both (n, 3, H, W) in [0, 1]."""
        return F.mse_loss(output.float(), rgb), self.feature_loss(output, rgb)

    def train_step(self) -> dict[str, Any]:
        """One discriminator step then one encoder+generator step on the same fake batch."""
        net, discriminator = self._models()
        rgb, classes = self.batch(self.step)
        n = rgb.shape[0]
        self.net.train()
        self.D.train()
        autocast = torch.autocast(self.device.type, enabled=self.amp)
        z = torch.randn(n, self.model_config.z_dim, device=self.device) * self.z_std
        with autocast:
            fake = net(luminance_gray(rgb), classes, z)

        real = enhance_colour(rgb, self.enhance) if self.enhance != 1 else rgb
        with autocast:
            logits = discriminator(
                torch.cat([real * 2 - 1, fake.detach()]), torch.cat([classes, classes])
            ).float()
        d_loss = (F.relu(1 - logits[:n]).mean() + F.relu(1 + logits[n:]).mean()) / 2
        self.backward(d_loss, self.opt_d)

        self.D.requires_grad_(False)  # D only judges here (and no process syncs its gradients)
        with autocast:
            adversarial = -self.D(fake, classes).float().mean()
            mse, feature = self.reconstruction_loss((fake.float() + 1) / 2, rgb)
        loss = (
            self.weight_mse * mse
            + self.weight_feature * feature
            + self.weight_adversarial * adversarial
        )
        self.backward(loss, self.opt_g)
        self.D.requires_grad_(True)
        self.ema.update(list(self.net.parameters()))

        lrs = (self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"])
        self.step += 1
        if self.step % self.steps_per_epoch == 0:
            self.sched_g.step()
            self.sched_d.step()
        return {
            "epoch": (self.step - 1) // self.steps_per_epoch,
            "loss": float(loss.detach()),
            "mse": float(mse.detach()),
            "feature": float(feature.detach()),
            "adversarial": float(adversarial.detach()),
            "d_loss": float(d_loss.detach()),
            "lr": lrs[0],
            "lr_d": lrs[1],
        }

    # --- state ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model_config": asdict(self.model_config),
            "d_channels": self.d_channels,
            "net": self.net.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict(),
            "step": self.step,
            "rng": common.rng_state(),
            "started_from": self.started_from,
            "config": self.config,
        }

    def restore(self, state: dict[str, Any]) -> None:
        saved = (state["model_config"], state["d_channels"])
        if saved != (asdict(self.model_config), self.d_channels):
            raise common.TrainingError(
                f"the checkpoints in {self.checkpoints.folder} are of another network "
                f"({saved}); use another output.dir or the same [model] and [discriminator]"
            )
        self.net.load_state_dict(state["net"])
        self.D.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.scaler.load_state_dict(state["scaler"])
        self.ema.load_state_dict(state["ema"])
        self.step = int(state["step"])
        # What the run started from is what the first session found, not this one.
        self.started_from = dict(state.get("started_from", self.started_from))
        self.started_from["feature_loss"] = self.feature_loss.source
        common.restore_rng_state(state["rng"])
        if self.dist.rank:
            # Only the main process's random state is saved: the others take a stream of their own.
            common.seed_everything(self.seed + 1000 * self.dist.rank + self.step)

    # --- the averaged weights: validation and export --------------------------------------------
    def averaged_state_dict(self) -> dict[str, torch.Tensor]:
        """The network's state with every parameter replaced by its moving average (buffers, the
        batch-norm statistics and u0/sv0, are the live ones, as with the official EMA file)."""
        state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        for name, shadow in zip(parameter_names(self.net), self.ema.shadow, strict=True):
            state[name] = shadow.detach().clone()
        return state

    def validate(self) -> common.Validation | None:
        if not self.val_photos or not self.dist.is_main:
            return None
        self._eval_net = copy.deepcopy(self.net)
        self._eval_net.load_state_dict(self.averaged_state_dict())
        self._eval_net.eval()
        try:
            return super().validate()
        finally:
            self._eval_net = None

    def validation_class(self, gray: np.ndarray) -> int:
        if self.data.fixed_class is not None:
            return self.data.fixed_class
        return classify.rank_classes(gray, 1, device=str(self.device))[0]

    @torch.inference_mode()
    def predict(self, gray: np.ndarray) -> Chroma:
        """The averaged network's colours, as BigColorPredictor gives them (seed 0)."""
        net = self._eval_net if self._eval_net is not None else self.net.eval()
        x = model_input(gray, self.val_side).to(self.device)
        classes = torch.tensor([self.validation_class(gray)], device=self.device)
        z = latent(0, self.model_config.z_dim).to(self.device)
        rgb = ((net(x, classes, z)[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
        return Chroma(ab=rgb_to_lab(rgb)[..., 1:])

    def export(self, path: Path) -> Path:
        """The averaged weights as a full fp16 state_dict (bigcolor-coloria.pth), which
        BigColorPredictor loads with this run's [model] values as options."""
        return common.export_fp16(self.averaged_state_dict(), path)

    def complete_card(self, card: Path) -> None:
        """Add what cards.write_card does not know: where G and D started, the classes and the
        photos left out."""
        data = json.loads(card.read_text())
        data["started_from"] = dict(self.started_from)
        data["classes"] = self.data.labelling
        data["recipe"]["discriminator"] = self.config.get("discriminator", {})
        data["data"]["low_colourfulness_excluded"] = self.data.excluded
        data["data"]["photos"] = len(self.data.crops)
        data["options"] = {
            "channels": self.model_config.channels,
            "shared_dim": self.model_config.shared_dim,
            "z_chunk": self.model_config.z_chunk,
        }
        card.write_text(json.dumps(data, indent=2) + "\n")

    # --- the loop's hooks -----------------------------------------------------------------------
    label = "bigcolor"
    log_every = 20
    val_every = 2000
    checkpoint_every = 1000

    @property
    def total_steps(self) -> int:
        return self.last_step

    def boundary(self) -> bool:
        return self.step % self.steps_per_epoch == 0  # an epoch ended (the schedulers stepped)

    def announce(self) -> None:
        for part, source in self.started_from.items():
            print(f"{part}: {source}")
        print(
            f"classes: {self.data.labelling}; {len(self.data.crops)} photos, "
            f"{self.data.excluded} left out below colourfulness "
            f"{float(self.config.get('data', {}).get('min_colourfulness', 15.0)):g}"
        )

    def origins(self) -> dict[str, Any]:
        return {
            "started_from": self.started_from,
            "encoder": self.started_from["encoder"],
            "feature_loss": self.feature_loss.source,
            "classes": self.data.labelling,
            "excluded": self.data.excluded,
        }
