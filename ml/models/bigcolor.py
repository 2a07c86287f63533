"""BigColor (Kim et al., ECCV 2022): an encoder feeding a class-conditional BigGAN generator.

The encoder reads the gray photo at 1/16 of its working size into 768 feature channels; a
BigGAN-256 generator, pretrained on ImageNet and fine-tuned with the encoder, takes those features
in at its third block (32 px for a 256 px photo) and paints the colour. Both are conditioned on an
ImageNet class through BigGAN's shared 1000 x 128 embedding, and the generator also takes a latent
z (7 chunks of 17, one per block), so one photo has many plausible colorings: one per class and
seed.

The module tree reproduces the official `Colorizer` key for key (`E.res1.conv_1.weight`,
`G.blocks.3.1.theta.u0`, ...) so that `EG_011.ckpt` loads unchanged, including the parts the
colorizer never runs (the generator's `linear`, its first two blocks and the instance norms). The
configuration is code here: the official `args.pkl` / `config.pickle` are pickles and are never
read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml import inference
from ml.catalogue.bigcolor import IMAGENET_CLASS
from ml.checkpoints import load_into
from ml.classify import rank_classes
from ml.color import Chroma, rgb_to_lab
from ml.errors import WeightsInvalid
from ml.inference import float32_weights
from ml.upsampled_conv import UpsampledConv

NUM_CLASSES = 1000
WORKING_SIDE = 256  # the short side the official pipeline colours at
SIDE_MULTIPLE = 16  # the encoder halves the photo four times
MAX_ASPECT = 4  # the working size is at most 256 x 1024
Z_STD = 0.8  # the official truncation: z ~ N(0, 0.8^2)
AUTOMATIC_CLASS = IMAGENET_CLASS.default  # -1: let Coloria choose


@dataclass(frozen=True)
class BigColorConfig:
    """The official network is channels 96, embedding 128, z chunks of 17; tests use smaller."""

    channels: int = 96  # encoder ch_unit and BigGAN's G_ch: they must agree (768 = 8 x 96)
    shared_dim: int = 128
    z_chunk: int = 17
    num_classes: int = NUM_CLASSES
    bottom_width: int = 4

    @property
    def z_dim(self) -> int:
        return self.z_chunk * (len(GENERATOR_WIDTHS) + 1)


# BigGAN-256: (in, out) width multipliers of the six upsampling blocks, 8 px -> 256 px.
GENERATOR_WIDTHS = ((16, 16), (16, 8), (8, 8), (8, 4), (4, 2), (2, 1))
ATTENTION_BLOCK = 3  # self-attention after the block that ends at 64 px
FIRST_USED_BLOCK = 2  # the encoder's features enter here (its output is 8 x channels wide)


# --- BigGAN's spectral norm -----------------------------------------------------------------------


class _BigGANSpectralNorm:
    """BigGAN-PyTorch's spectral norm: buffers `u0` [1, out] and `sv0` [1] beside the weight.

    Each forward does one power iteration from u0; in training it stores the new u0 and the
    singular value sv0, in eval it changes nothing. Unlike torch's spectral norm the weight itself
    is the parameter (no weight_orig), which is what the official checkpoints hold.
    """

    weight: torch.Tensor
    u0: torch.Tensor
    sv0: torch.Tensor
    training: bool
    eps = 1e-8

    def _init_sn(self, outputs: int) -> None:
        self.register_buffer("u0", torch.randn(1, outputs))  # type: ignore[attr-defined]
        self.register_buffer("sv0", torch.ones(1))  # type: ignore[attr-defined]

    def normalised_weight(self) -> torch.Tensor:
        matrix = self.weight.reshape(self.weight.size(0), -1)  # channels-last too
        # In float32 under a fast path's bfloat16 autocast too (ml.inference): a rounded sigma
        # would scale every output of the layer.
        with float32_weights(matrix), torch.no_grad():
            v = F.normalize(self.u0 @ matrix, eps=self.eps)
            u = F.normalize(v @ matrix.t(), eps=self.eps)
            if self.training:
                self.u0.copy_(u)
        with float32_weights(matrix):
            sigma = torch.squeeze((v @ matrix.t()) @ u.t())
        if self.training:
            with torch.no_grad():
                self.sv0.copy_(sigma.detach().reshape(1))
        return self.weight / sigma


class SNConv2d(nn.Conv2d, _BigGANSpectralNorm):
    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, bias: bool = True) -> None:
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2, bias=bias)
        self._init_sn(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalised_weight(), self.bias, padding=self.padding)

    def as_conv2d(self) -> tuple | None:
        """What it computes as a plain convolution (weight, bias, stride, padding, dilation,
        groups), for ml.winograd; None while training (reading the weight updates u0 there)."""
        if self.training:
            return None
        return self.normalised_weight().detach(), self.bias, 1, self.padding[0], 1, 1


class SNLinear(nn.Linear, _BigGANSpectralNorm):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._init_sn(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalised_weight(), self.bias)


# --- Conditional normalisation --------------------------------------------------------------------


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose gain (1 + g(y)) and bias b(y) come from the class (and z) vector y.

    The running statistics are BigGAN's `stored_mean` / `stored_var`. The encoder's gain and bias
    are plain linear maps, the generator's spectrally normalised ones.
    """

    eps = 1e-5  # the normalisation's, in `forward` and `affine` alike

    def __init__(self, channels: int, condition: int, spectral: bool) -> None:
        super().__init__()
        linear = SNLinear if spectral else nn.Linear
        self.gain = linear(condition, channels, bias=False)
        self.bias = linear(condition, channels, bias=False)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain = (1 + self.gain(y)).view(y.size(0), -1, 1, 1)
        bias = self.bias(y).view(y.size(0), -1, 1, 1)
        normed = F.batch_norm(
            x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps
        )
        return normed * gain + bias

    def affine(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The eval forward as one scale and shift per image and channel, (N, C, 1, 1) each:
        `x * scale + shift` is the normalisation, the gain and the bias in one pass over x."""
        scale = (1 + self.gain(y)) * torch.rsqrt(self.stored_var + self.eps)
        shift = self.bias(y) - self.stored_mean * scale
        return scale.view(y.size(0), -1, 1, 1), shift.view(y.size(0), -1, 1, 1)

    def relu_of(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """relu(forward(x, y)) at eval, in two passes over x where the official takes four."""
        scale, shift = self.affine(y)
        return torch.addcmul(shift, x, scale).relu_()


class OutputBatchNorm(nn.Module):
    """The generator's last, unconditional batch norm: parameters `gain` and `bias`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, 1e-5
        )


# --- Encoder --------------------------------------------------------------------------------------


class EncoderBlock(nn.Module):
    """Pre-activation residual block with class-conditional norms; avg-pools when it goes down."""

    fast_forms = False  # see BigColor.use_fast_forms

    def __init__(self, in_ch: int, out_ch: int, condition: int, down: bool, dropout: bool) -> None:
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(in_ch, out_ch, 1)
        self.conv_1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv_2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.normalize_1 = ConditionalBatchNorm(in_ch, condition, spectral=False)
        self.normalize_2 = ConditionalBatchNorm(out_ch, condition, spectral=False)
        self.dropout = nn.Dropout(0.2) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.fast_forms and not self.training:
            return self._fast_forward(x, y)
        h = F.relu(self.normalize_1(x, y))
        if self.down:
            h = F.avg_pool2d(h, 2)
            x = F.avg_pool2d(x, 2)
        h = self.conv_2(F.relu(self.normalize_2(self.conv_1(h), y)))
        return self.dropout(self.conv(x) + h)

    def _fast_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """`forward` at eval with fewer passes over its maps (float32 rounding apart)."""
        h = self.normalize_1.relu_of(x, y)
        if self.down:
            h = F.avg_pool2d(h, 2)
            x = F.avg_pool2d(x, 2)
        h = self.conv_2(self.normalize_2.relu_of(self.conv_1(h), y))
        if x.size(1) > 1:
            return h.add_(self.conv(x))
        # The first block's 1 x 1 convolution of the gray photo is a scale and a shift per
        # channel: one pass, where the convolution took as long as a 3 x 3 one of 96 channels.
        scale, shift = (p.view(1, -1, 1, 1) for p in (self.conv.weight, self.conv.bias))
        return torch.addcmul(h.add_(shift), x, scale)


class Encoder(nn.Module):
    """Gray (1 channel) -> 8 x channels features at 1/16 of the size."""

    def __init__(self, config: BigColorConfig) -> None:
        super().__init__()
        ch, cond = config.channels, config.shared_dim
        self.res1 = EncoderBlock(1, ch, cond, down=False, dropout=True)
        self.res2 = EncoderBlock(ch, ch * 2, cond, down=True, dropout=True)
        self.res3 = EncoderBlock(ch * 2, ch * 4, cond, down=True, dropout=True)
        self.res4 = EncoderBlock(ch * 4, ch * 8, cond, down=True, dropout=True)
        self.res5 = EncoderBlock(ch * 8, ch * 8, cond, down=True, dropout=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for block in (self.res1, self.res2, self.res3, self.res4, self.res5):
            x = block(x, y)
        return x


# --- BigGAN generator -----------------------------------------------------------------------------


class GBlock(nn.Module):
    """BigGAN's up block: cBN-ReLU-up-conv, cBN-ReLU-conv, plus a 1x1 conv of the upsampled input.

    in1/in2 are instance norms the official class keeps for an optional mode that BigColor never
    uses; they are here only so that the checkpoints load strictly.
    """

    fast_forms = False  # see BigColor.use_fast_forms

    def __init__(self, in_ch: int, out_ch: int, condition: int) -> None:
        super().__init__()
        self.conv1 = SNConv2d(in_ch, out_ch)
        # conv1 of the upsampled map, from the map itself (`fast`); no parameters of its own.
        self.conv1_upsampled = UpsampledConv(self.conv1)
        self.conv2 = SNConv2d(out_ch, out_ch)
        self.conv_sc = SNConv2d(in_ch, out_ch, kernel=1)
        self.bn1 = ConditionalBatchNorm(in_ch, condition, spectral=True)
        self.bn2 = ConditionalBatchNorm(out_ch, condition, spectral=True)
        self.in1 = nn.InstanceNorm2d(in_ch, affine=True)
        self.in2 = nn.InstanceNorm2d(out_ch, affine=True)
        for norm in (self.in1, self.in2):
            norm.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.fast_forms and not self.training:
            return self._fast_forward(x, y)
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        x = F.interpolate(x, scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(x)

    def _fast_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """`forward` at eval in a cheaper order (float32 rounding apart): the upsampling
        convolution from the small map (ml.upsampled_conv: 16 multiply-adds where it took 36),
        and the 1 x 1 shortcut, which commutes with the nearest upsampling, at the small size (a
        quarter of its work), added to each 2 x 2 block of the output."""
        h = self.conv2(self.bn2.relu_of(self.conv1_upsampled(self.bn1.relu_of(x, y)), y))
        shortcut = self.conv_sc(x)
        height, width = shortcut.shape[2:]
        blocks = h.unflatten(2, (height, 2)).unflatten(4, (width, 2))
        return (blocks + shortcut[:, :, :, None, :, None]).flatten(4, 5).flatten(2, 3)


class Attention(nn.Module):
    """SAGAN self-attention with keys and values max-pooled by 2, added back with a learnt gamma."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.tensor(0.0))
        self.theta = SNConv2d(ch, ch // 8, kernel=1, bias=False)
        self.phi = SNConv2d(ch, ch // 8, kernel=1, bias=False)
        self.g = SNConv2d(ch, ch // 2, kernel=1, bias=False)
        self.o = SNConv2d(ch // 2, ch, kernel=1, bias=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = self.theta(x).view(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(n, c // 8, -1)
        g = F.max_pool2d(self.g(x), 2).view(n, c // 2, -1)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)
        o = self.o((g @ beta.transpose(1, 2)).view(n, c // 2, h, w))
        return x + self.gamma * o


class Generator(nn.Module):
    """BigGAN-256 with a shared class embedding and a hierarchical z."""

    fast_forms = False  # see BigColor.use_fast_forms

    def __init__(self, config: BigColorConfig) -> None:
        super().__init__()
        ch = config.channels
        condition = config.shared_dim + config.z_chunk
        self.config = config
        # The official parameter order (which the EMA file relies on) is the order of
        # registration: shared, linear, blocks, output_layer.
        self.shared = nn.Embedding(config.num_classes, config.shared_dim)
        self.linear = SNLinear(config.z_chunk, GENERATOR_WIDTHS[0][0] * ch * config.bottom_width**2)
        blocks = []
        for index, (mult_in, mult_out) in enumerate(GENERATOR_WIDTHS):
            stage: list[nn.Module] = [GBlock(mult_in * ch, mult_out * ch, condition)]
            if index == ATTENTION_BLOCK:
                stage.append(Attention(mult_out * ch))
            blocks.append(nn.ModuleList(stage))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(OutputBatchNorm(ch), nn.ReLU(), SNConv2d(ch, 3, kernel=3))

    def forward_from_features(
        self, features: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        """Run the blocks from FIRST_USED_BLOCK on the encoder's features; RGB in [-1, 1]."""
        chunks = torch.split(z, self.config.z_chunk, dim=1)
        # chunk 0 would feed `linear`; chunk i + 1 conditions block i.
        conditions = [torch.cat([y, chunk], dim=1) for chunk in chunks[1:]]
        h = features
        for index in range(FIRST_USED_BLOCK, len(self.blocks)):
            for layer in self.blocks[index]:
                h = layer(h, conditions[index])
        if self.fast_forms and not self.training:
            norm, _, conv = self.output_layer
            return torch.tanh(conv(norm(h).relu_()))
        return torch.tanh(self.output_layer(h))


class BigColor(nn.Module):
    """The official `Colorizer`: E (encoder) and G (generator), keys `E.*` and `G.*`."""

    # No branch depends on the working size (its sides are multiples of 16, the attention's
    # pooling always halves an even map): one ONNX Runtime export serves every photo's aspect
    # ratio (ml.inference), each new size checked once against the eager network.
    export_size_multiple = SIDE_MULTIPLE
    # Where `fast` may run 3 x 3 convolutions by Winograd's algorithm (ml.winograd): the
    # encoder's and the generator's, 192-768 channels from 32 x 32 to 128 x 128.
    winograd_modules = ("E", "G")

    def __init__(self, config: BigColorConfig | None = None) -> None:
        super().__init__()
        self.config = config or BigColorConfig()
        self.E = Encoder(self.config)
        self.G = Generator(self.config)

    def forward(self, gray: torch.Tensor, classes: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """gray (N, 1, H, W) in [0, 1], H and W multiples of 16; classes (N,); z (N, z_dim)."""
        y = self.G.shared(classes)
        return self.G.forward_from_features(self.E(gray, y), y, z)

    def use_fast_forms(self, enabled: bool) -> None:
        """Compute the same function in a cheaper order at eval (`fast`, ml.inference; float32
        rounding apart): each conditional batch norm and its ReLU in two passes, not four; the
        generator's upsampling convolutions computed from the maps before the upsampling
        (ml.upsampled_conv), its 1 x 1 shortcuts before it too."""
        for layer in self.modules():
            if hasattr(type(layer), "fast_forms"):
                layer.fast_forms = enabled
            if isinstance(layer, UpsampledConv) and not enabled:
                layer.forget()


# --- Checkpoints ----------------------------------------------------------------------------------


def parameter_names(network: nn.Module) -> list[str]:
    """Names of the network's parameters in `parameters()` order: the order of a torch-ema file."""
    return [name for name, _ in network.named_parameters(remove_duplicate=False)]


def load_ema(network: nn.Module, ema_state: dict[str, Any], *, source: str) -> None:
    """Copy a torch-ema state's `shadow_params` onto the network's parameters.

    torch-ema stores an unnamed list in the order of the `parameters()` it was made from; buffers
    (BN statistics, u0, sv0) are not in it, so they keep what the network already holds.
    """
    shadow = ema_state.get("shadow_params")
    if not isinstance(shadow, list | tuple):
        raise WeightsInvalid(f"{source} is not a torch-ema state (no shadow_params list).")
    names = parameter_names(network)
    if len(shadow) != len(names):
        raise WeightsInvalid(
            f"{source} holds {len(shadow)} averaged parameters; this network has {len(names)}."
        )
    parameters = dict(network.named_parameters())
    for name, value in zip(names, shadow, strict=True):
        target = parameters[name]
        if not isinstance(value, torch.Tensor) or value.shape != target.shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise WeightsInvalid(
                f"{source} does not fit this network: {name} should be {tuple(target.shape)}, "
                f"the file has {got}."
            )
        with torch.no_grad():
            target.copy_(value.float())


def read_ema_state(path: Path) -> dict[str, Any] | None:
    """The torch-ema state in `path`, or None when the file is an ordinary state_dict."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsInvalid(f"{path.name} is not a readable weights file ({exc}).") from exc
    if isinstance(loaded, dict) and "shadow_params" in loaded:
        return loaded
    return None


def load_bigcolor(network: BigColor, weights: Path, base: Path | None = None) -> None:
    """Load official or Coloria weights.

    `weights` is either a full state_dict (EG_011.ckpt, or a Coloria export with the averaged
    weights already in place) or a torch-ema state (EG_EMA_011.ckpt). An EMA state holds no
    buffers, so it is applied on top of `base`, the matching full state_dict.
    """
    ema = read_ema_state(weights)
    if ema is None:
        load_into(network, weights)
        return
    if base is None:
        raise WeightsInvalid(
            f"{weights.name} holds only averaged parameters; the matching full checkpoint "
            "(EG_011.ckpt) must be installed too."
        )
    load_into(network, base)
    load_ema(network, ema, source=weights.name)


# --- Inference ------------------------------------------------------------------------------------


def working_size(height: int, width: int, side: int = WORKING_SIDE) -> tuple[int, int]:
    """The official 'powerof' resize: short side `side`, long side rounded up to a multiple of
    16 — and at most MAX_ASPECT times the short side: a panorama strip would otherwise make the
    attention at 1/4 scale quadratically large (the colour of such a strip is stretched back)."""
    short, long = min(height, width), max(height, width)
    long_side = math.ceil(long * side / short / SIDE_MULTIPLE) * SIDE_MULTIPLE
    long_side = min(long_side, side * MAX_ASPECT)
    return (side, long_side) if height <= width else (long_side, side)


def model_input(gray: np.ndarray, side: int = WORKING_SIDE) -> torch.Tensor:
    """Gray in [0, 1] resized to the working size, shape (1, 1, h, w)."""
    height, width = working_size(*gray.shape, side=side)
    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize((width, height), resample=Image.BILINEAR), dtype=np.float32)
    return torch.from_numpy(np.clip(resized, 0.0, 1.0))[None, None]


def latent(seed: int, z_dim: int) -> torch.Tensor:
    """z ~ N(0, 0.8^2) from a seed: the same seed gives the same z on every machine."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(1, z_dim, generator=generator) * Z_STD


class BigColorPredictor:
    """Colours a photo for one ImageNet class and seed, as the official scripts do."""

    def __init__(
        self,
        weights: Path,
        device: str,
        base_weights: str | None = None,
        **config: Any,
    ) -> None:
        self.device = torch.device(device)
        self.net = BigColor(BigColorConfig(**config))
        base = None
        if base_weights is not None:
            from ml.weights import weights_path

            base = weights_path(base_weights)
        load_bigcolor(self.net, Path(weights), base)
        self.net.eval().to(self.device)
        # `fast` runs it eagerly: its fast forms (use_fast_forms) and Winograd's convolutions.
        # Its frozen trace ran no faster than exact (0.98x, oneDNN already near the cores'
        # float32 peak) and a trace's weights outlive it (pytorch#96726).
        self.run = inference.prepare(self.net, self.device, jit=False)

    @torch.inference_mode()
    def predict(
        self,
        gray: np.ndarray,
        imagenet_class: int = AUTOMATIC_CLASS,
        seed: int = 0,
        candidate: int = 1,
        **_: Any,
    ) -> Chroma:
        """`candidate` n (1-based) of a series: with an automatic class, the n-th most likely
        class; with a chosen class, the seed + n - 1."""
        candidate = max(1, int(candidate))
        if int(imagenet_class) == AUTOMATIC_CLASS:
            chosen = rank_classes(gray, candidate, device=str(self.device))[candidate - 1]
        else:
            chosen = int(imagenet_class)
            seed = int(seed) + candidate - 1
        x = model_input(gray).to(self.device)
        classes = torch.tensor([chosen], device=self.device)
        z = latent(seed, self.net.config.z_dim).to(self.device)
        rgb = (self.run(x, classes, z)[0] + 1) / 2
        rgb = rgb.clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
        return Chroma(ab=rgb_to_lab(rgb)[..., 1:], details={"imagenet_class": chosen, "seed": seed})


# --- For training: the projection discriminator's class embedding ---------------------------------


class SNEmbedding(nn.Embedding, _BigGANSpectralNorm):
    """BigGAN's spectrally normalised embedding (the discriminator's class vectors, `embed`).

    The weight is read as a (classes x dim) matrix, so u0 has one entry per class, as in the
    official D_256.pth.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__(num_embeddings, embedding_dim)
        self._init_sn(num_embeddings)

    def forward(self, classes: torch.Tensor) -> torch.Tensor:
        return F.embedding(classes, self.normalised_weight())


def random_weights(spec: Any, directory: Path) -> Path:
    """Randomly initialised weights in the official layout for `spec` (benchmarks, tests): the
    full checkpoint, and for the averaged model the torch-ema list of parameters on top."""
    import torch

    from ml.checkpoints import save_half
    from ml.weights import known

    config = {k: v for k, v in spec.options.items() if k != "base_weights"}
    net = BigColor(BigColorConfig(**config))
    entry = known(spec.weights)
    base = known(entry.requires[0]) if entry.requires else entry
    path = save_half(net.state_dict(), Path(directory) / base.filename)
    if entry.requires:
        shadow = [p.detach().half() for p in net.parameters()]
        path = Path(directory) / entry.filename
        torch.save({"shadow_params": shadow}, path)
    return path
