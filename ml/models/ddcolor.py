"""DDColor (Kang et al., ICCV 2023; code and weights Apache-2.0), in plain PyTorch.

DDColor reads a gray photo (as gray RGB) with a ConvNeXt encoder and decodes it twice: a pixel
decoder (three DeOldify-style `UnetBlockWide` blocks and a x4 pixel shuffle) rebuilds full-size
image features, while a colour decoder of learnt queries (100 "colour tokens") attends to the
pixel decoder's features at 1/16, 1/8 and 1/4 scale in turn (9 transformer layers). Each query
becomes a colour embedding; its dot product with the image features at every pixel gives 100
per-pixel maps, and a 1x1 spectral-norm conv over those maps plus the input predicts Lab a, b.

The module tree below reproduces the official state_dict key for key (`encoder.arch...`,
`decoder.layers...`, `decoder.color_decoder...`, `refine_net.0.0...`): DDColor-L has
227,869,328 parameters (ConvNeXt-L encoder), DDColor-T 55,006,640 (ConvNeXt-T). The official
files are `{'params': state_dict}` and also carry a 4-way `encoder.arch.head_cls` that the
released code no longer builds; `DDColor.load_state_dict` drops exactly that and otherwise loads
strictly, so a file for another network is refused instead of half-loaded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from ml import inference, onednn
from ml.catalogue.ddcolor import INPUT_SIZE
from ml.checkpoints import load_into
from ml.color import Chroma, gray_to_lightness, lab_to_rgb
from ml.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ml.models.deoldify import (
    PixelShuffleUpsample,
    SpectralNormConv,
    UnetBlockWide,
    _icnr_,
)

DEFAULT_INPUT_SIZE = INPUT_SIZE.default  # the catalogue's (the official setting)
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 256, 1024
# The encoder halves the image five times (x4 stem, then three x2): sides must divide by 32.
SIZE_MULTIPLE = 32
NUM_SCALES = 3  # the colour decoder cycles through the pixel decoder's 1/16, 1/8, 1/4 maps
# Keys in the official files that the released architecture does not build (an unused
# classification head left over from pretraining experiments).
UNUSED_OFFICIAL_KEYS = ("encoder.arch.head_cls.weight", "encoder.arch.head_cls.bias")


@dataclass(frozen=True)
class DDColorConfig:
    """What distinguishes DDColor networks. The defaults are DDColor-L."""

    depths: tuple[int, ...] = (3, 3, 27, 3)  # ConvNeXt blocks per stage
    dims: tuple[int, ...] = (192, 384, 768, 1536)  # ConvNeXt channels per stage
    nf: int = 512  # pixel decoder width; its last block and the image features use nf // 2
    num_queries: int = 100
    dec_layers: int = 9
    hidden_dim: int = 256
    nheads: int = 8
    dim_feedforward: int = 2048
    num_output_channels: int = 2  # Lab a, b

    def __post_init__(self) -> None:
        if len(self.depths) != 4 or len(self.dims) != 4:
            raise ValueError("DDColor's ConvNeXt encoder has exactly four stages")
        if self.hidden_dim % self.nheads or self.hidden_dim % 2:
            raise ValueError("hidden_dim must be even and divisible by nheads")


VARIANTS: dict[str, DDColorConfig] = {
    "large": DDColorConfig(),
    "tiny": DDColorConfig(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
}


# --- ConvNeXt encoder (Liu et al. 2022), official key names -------------------------------------


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an (N, C, H, W) map (ConvNeXt's "channels_first" norm)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv, LayerNorm, 4x MLP with GELU, layer scale `gamma`, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)  # channels last for the norm and the MLP
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h))))
        return x + (self.gamma * h).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    """The encoder: stem (4x4 conv, stride 4), then stages with 2x2 stride-2 downsampling between
    them. Returns the four stage outputs, each through its own LayerNorm (`norm0`..`norm3`):
    those are the features the official decoder hooks. `norm` (the classifier's pooled norm) is
    kept for the keys and the ImageNet start, but the colorizer never uses it."""

    def __init__(self, depths: tuple[int, ...], dims: tuple[int, ...]) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0]))]
        )
        for i in range(3):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2d(dims[i]), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)
                )
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*[ConvNeXtBlock(dim) for _ in range(depth)])
            for depth, dim in zip(depths, dims, strict=True)
        )
        for i, dim in enumerate(dims):
            self.add_module(f"norm{i}", LayerNorm2d(dim))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for i, (down, stage) in enumerate(zip(self.downsample_layers, self.stages, strict=True)):
            x = stage(down(x))
            # The norm feeds the decoder only; the next stage continues from the raw output.
            features.append(getattr(self, f"norm{i}")(x))
        return features


class Encoder(nn.Module):
    """A holder that gives the encoder's keys their official `encoder.arch.` prefix."""

    def __init__(self, config: DDColorConfig) -> None:
        super().__init__()
        self.arch = ConvNeXt(config.depths, config.dims)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.arch(x)


# --- The colour decoder: learnt queries attending to multi-scale features -----------------------


def sine_position_embedding(
    height: int, width: int, channels: int, device: torch.device
) -> torch.Tensor:
    """DETR's normalised sine embedding of (row, column), shape (height * width, channels):
    the first half encodes the row, the second the column, each as sin/cos pairs of geometric
    frequencies over positions scaled to (0, 2 pi]."""
    half = channels // 2
    index = torch.arange(half, dtype=torch.float32, device=device)
    frequencies = 10000.0 ** (2 * torch.div(index, 2, rounding_mode="floor") / half)

    def encode(count: int) -> torch.Tensor:
        positions = torch.arange(1, count + 1, dtype=torch.float32, device=device)
        angles = (positions / (count + 1e-6) * 2 * math.pi)[:, None] / frequencies
        # even channels sine, odd channels cosine (the frequency is shared within each pair)
        return torch.where(index % 2 == 0, angles.sin(), angles.cos())

    rows = encode(height)[:, None, :].expand(height, width, half)
    columns = encode(width)[None, :, :].expand(height, width, half)
    return torch.cat([rows, columns], dim=-1).reshape(height * width, channels)


def _xavier(module: nn.Module) -> nn.Module:
    for parameter in module.parameters():
        if parameter.dim() > 1:
            nn.init.xavier_uniform_(parameter)
    return module


class CrossAttentionLayer(nn.Module):
    """Queries attend to image features (post-norm, no dropout)."""

    # Whether the attention also computes its (unused) head-averaged weights, as the official
    # code does. Without them PyTorch runs its fused attention, which never forms the queries'
    # weights over the 128 x 128 keys at 1/4 scale: the same function in another summation order
    # (DDColor.use_fast_forms).
    need_weights = True

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        _xavier(self)

    def forward(
        self,
        queries: torch.Tensor,
        memory: torch.Tensor,
        pos: torch.Tensor,
        query_pos: torch.Tensor,
    ) -> torch.Tensor:
        keyed = memory + pos
        attended = self.multihead_attn(
            queries + query_pos, keyed, memory, need_weights=self.need_weights
        )
        return self.norm(queries + attended[0])


class SelfAttentionLayer(nn.Module):
    """Queries attend to each other (post-norm, no dropout)."""

    need_weights = True  # as CrossAttentionLayer's

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        _xavier(self)

    def forward(self, queries: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        keyed = queries + query_pos
        attended = self.self_attn(keyed, keyed, queries, need_weights=self.need_weights)
        return self.norm(queries + attended[0])


class FFNLayer(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm = nn.LayerNorm(dim)
        _xavier(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


class MLP(nn.Module):
    """Linear layers with ReLU between them (`layers.0`, `layers.1`, ...)."""

    def __init__(self, dim_in: int, hidden: int, dim_out: int, depth: int) -> None:
        super().__init__()
        sizes = [dim_in] + [hidden] * (depth - 1) + [dim_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class MultiScaleColorDecoder(nn.Module):
    """`num_queries` colour queries refined by `dec_layers` transformer layers, each attending to
    one scale of the pixel decoder in turn (cross-attention, self-attention, FFN); the queries'
    embeddings times the full-size image features give one map per query."""

    def __init__(self, in_channels: tuple[int, ...], config: DDColorConfig) -> None:
        super().__init__()
        dim, heads = config.hidden_dim, config.nheads
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(dim, heads) for _ in range(config.dec_layers)
        )
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(dim, heads) for _ in range(config.dec_layers)
        )
        self.transformer_ffn_layers = nn.ModuleList(
            FFNLayer(dim, config.dim_feedforward) for _ in range(config.dec_layers)
        )
        self.decoder_norm = nn.LayerNorm(dim)
        self.query_feat = nn.Embedding(config.num_queries, dim)  # what each query starts as
        self.query_embed = nn.Embedding(config.num_queries, dim)  # its positional identity
        self.level_embed = nn.Embedding(NUM_SCALES, dim)
        self.input_proj = nn.ModuleList(nn.Conv2d(c, dim, kernel_size=1) for c in in_channels)
        for conv in self.input_proj:
            nn.init.kaiming_uniform_(conv.weight, a=1)
            nn.init.zeros_(conv.bias)
        self.color_embed = MLP(dim, dim, config.nf // 2, 3)

    def forward(self, scales: list[torch.Tensor], image_features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nqc,nchw->nqhw", self.colours(scales), image_features)

    def colours(self, scales: list[torch.Tensor]) -> torch.Tensor:
        """Each query's colour embedding, shape (N, queries, C)."""
        memories, positions = [], []
        for level, (feature, project) in enumerate(zip(scales, self.input_proj, strict=True)):
            _, _, height, width = feature.shape
            dim = self.level_embed.embedding_dim
            positions.append(sine_position_embedding(height, width, dim, feature.device)[None])
            memory = project(feature).flatten(2).transpose(1, 2)  # (N, H * W, dim)
            memories.append(memory + self.level_embed.weight[level])
        batch = scales[0].shape[0]
        query_pos = self.query_embed.weight[None].expand(batch, -1, -1)
        queries = self.query_feat.weight[None].expand(batch, -1, -1)
        layers = zip(
            self.transformer_cross_attention_layers,
            self.transformer_self_attention_layers,
            self.transformer_ffn_layers,
            strict=True,
        )
        for i, (cross, self_attention, ffn) in enumerate(layers):
            level = i % NUM_SCALES
            queries = cross(queries, memories[level], positions[level], query_pos)
            queries = ffn(self_attention(queries, query_pos))
        return self.color_embed(self.decoder_norm(queries))


# --- The pixel decoder and the whole network ----------------------------------------------------


def pixel_shuffle_x4(channels: int) -> PixelShuffleUpsample:
    """DeOldify's pixel-shuffle upsampling at scale 4: a spectral-norm 1x1 conv with bias to
    16x the channels, ReLU, shuffle, blur (official `last_shuf`, last_norm 'Spectral')."""
    upsample = PixelShuffleUpsample(
        nn.Sequential(SpectralNormConv(channels, channels * 16, 1, bias=True))
    )
    upsample.shuf = nn.PixelShuffle(4)
    _icnr_(upsample.conv[0], scale=4)  # the x2 ICNR of the constructor would not fit x4
    return upsample


class Decoder(nn.Module):
    """Pixel decoder (1/32 -> 1/16 -> 1/8 -> 1/4 -> 1/1) feeding the colour decoder."""

    def __init__(self, config: DDColorConfig) -> None:
        super().__init__()
        nf, dims = config.nf, config.dims
        blocks, up = [], dims[-1]
        skips = dims[-2::-1]  # encoder features at 1/16, 1/8 and 1/4
        for i, skip in enumerate(skips):
            width = nf // 2 if i == len(skips) - 1 else nf
            # DeOldify's block is described by twice its width (n_out, of which half is used).
            blocks.append(UnetBlockWide(up, skip, n_out=2 * width))
            up = width
        self.layers = nn.Sequential(*blocks)
        self.last_shuf = pixel_shuffle_x4(nf // 2)
        self.color_decoder = MultiScaleColorDecoder((nf, nf, nf // 2), config)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        scales = self.scales(features)
        return self.color_decoder(scales, self.last_shuf(scales[-1]))

    def scales(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The pixel decoder's maps at 1/16, 1/8 and 1/4 scale."""
        quarter, eighth, sixteenth, top = features
        out0 = self.layers[0](top, sixteenth)
        out1 = self.layers[1](out0, eighth)
        return [out0, out1, self.layers[2](out1, quarter)]


class DDColor(nn.Module):
    """Gray RGB in [0, 1], shape (N, 3, H, W) with H, W multiples of 32 -> Lab a, b (N, 2, H, W)
    in Lab units (roughly -110..110)."""

    # Where ONNX Runtime runs it (COLORIA_FAST_ENGINE=onnxruntime; by default `fast` runs it
    # eagerly): at those sizes no branch depends on the size (the pixel decoder's skips always
    # match, the position embeddings follow the feature sizes), so one export serves every input
    # size (ml.inference), each checked against the eager network on first use.
    export_size_multiple = SIZE_MULTIPLE
    # ONNX Runtime's arena keeps the largest activations it has needed while the model stays
    # loaded: up to the official input size, 2.4 GB beside the eager network's 1.2 GB; larger
    # inputs (7 GB more at 1024) take PyTorch's path (ml.inference).
    onnx_max_pixels = DEFAULT_INPUT_SIZE * DEFAULT_INPUT_SIZE
    # `fast` (ml.winograd): the pixel decoder's 3 x 3 convolutions of 512 and 256 channels.
    winograd_modules = ("decoder",)
    # `fast` (ml.int8): the pointwise MLPs of the encoder's third stage (1/16 scale; 27 of
    # DDColor-L's 36 blocks, 9 of DDColor-T's 18), most of DDColor-L's time in float32. The
    # first two stages' in int8 too doubled the colours' error for little time (12 validation
    # photos, DDColor-L: max ΔE00 0.45 against 0.23 for the third stage alone).
    int8_modules = ("encoder.arch.stages.2",)
    # `fast` (ml.onednn): the other linear layers and the colour decoder's attention, whose
    # products PyTorch would run on MKL (its AVX2 code on AMD processors).
    onednn_modules = (
        "encoder.arch.stages.0", "encoder.arch.stages.1", "encoder.arch.stages.3", "decoder",
    )  # fmt: skip

    def __init__(self, config: DDColorConfig) -> None:
        super().__init__()
        self.config = config
        self.fast_forms = False  # see use_fast_forms
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.refine_net = nn.Sequential(
            nn.Sequential(
                SpectralNormConv(config.num_queries + 3, config.num_output_channels, 1, bias=True)
            )
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        height, width = rgb.shape[-2:]
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise ValueError(f"DDColor needs sides divisible by 32, not {height} x {width}")
        x = (rgb - self.mean) / self.std
        if self.fast_forms:
            return self._refined_from_subpixels(x, self.encoder(x))
        colour_maps = self.decoder(self.encoder(x))
        return self.refine_net(torch.cat([colour_maps, x], dim=1))

    def use_fast_forms(self, enabled: bool) -> None:
        """Compute the same function in a cheaper order (`fast`, ml.inference; float32 rounding
        apart): the attention without its unused weights, and the head folded (see
        `_refined_from_subpixels`). At 512 x 512 on a 2-core CPU they take DDColor-T from 2.1 to
        1.4 s and DDColor-L from 5.4 to 3.6 s."""
        self.fast_forms = enabled
        for layer in self.modules():
            if isinstance(layer, CrossAttentionLayer | SelfAttentionLayer):
                layer.need_weights = not enabled

    def _refined_from_subpixels(
        self, x: torch.Tensor, features: list[torch.Tensor]
    ) -> torch.Tensor:
        """The official head, reordered. Everything after the last upsampling's ReLU is linear
        in its output: the pixel shuffle, the blur, the queries' dot products (100 maps of 256
        channels at full size) and the refining 1 x 1 convolution (100 maps -> a, b). So the
        refining weights are folded into the queries' embeddings first (2 x 256 per image),
        applied to each of the 16 sub-pixel planes before the shuffle (one 1 x 1 convolution
        at 1/4 scale), and only a, b are shuffled and blurred: no 256- or 100-channel map at
        full size is ever made, and the upsampling's 16 x 256-channel one only a band at a time."""
        scales = self.decoder.scales(features)
        colours = self.decoder.color_decoder.colours(scales)  # (N, queries, C)
        upsample = self.decoder.last_shuf
        refine = self.refine_net[0][0]
        weight, queries = refine.normalised_weight(), colours.shape[1]
        mixed = torch.einsum("oq,nqc->noc", weight[:, :queries, 0, 0], colours)
        # Channel c x 16 + k of the upsampling's hidden map is channel c at sub-pixel k: each
        # image's kernel maps it to channel o x 16 + k (a, b at the same sub-pixel), weighted
        # by mixed[o, c].
        subpixels = upsample.shuf.upscale_factor**2
        identity = torch.eye(subpixels, dtype=mixed.dtype, device=x.device)
        kernels = (mixed[:, :, None, :, None] * identity[:, None, :]).flatten(1, 2).flatten(2)
        # The upsampling's 1 x 1 convolution, its ReLU and the kernels: one MLP per image, a
        # band of pixels at a time (the hidden map, C x 16 channels at 1/4 scale, never whole).
        quarter, conv = scales[-1], upsample.conv[0]  # (N, C, H / 4, W / 4)
        pixels = quarter.permute(0, 2, 3, 1).flatten(1, 2)  # (N, pixels, C), channels-last
        first = conv.normalised_weight().flatten(1)
        planes = torch.stack(
            [onednn.relu_mlp(p, first, conv.bias, k) for p, k in zip(pixels, kernels, strict=True)]
        )
        planes = planes.unflatten(1, quarter.shape[2:]).permute(0, 3, 1, 2)
        return upsample.blur(upsample.shuf(planes)) + F.conv2d(x, weight[:, queries:], refine.bias)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Strict loading, less the official files' unused head; files without the fixed
        normalisation buffers (stripped by converters) keep the network's own."""
        state = {k: v for k, v in state_dict.items() if k not in UNUSED_OFFICIAL_KEYS}
        state.setdefault("mean", self.mean)
        state.setdefault("std", self.std)
        return super().load_state_dict(state, strict=strict, assign=assign)


def build_ddcolor(variant: str | DDColorConfig = "large", **overrides: Any) -> DDColor:
    """DDColor-L ("large"), DDColor-T ("tiny"), or either with fields replaced (smaller
    networks for tests and CPU training)."""
    if isinstance(variant, DDColorConfig):
        config = variant
    else:
        try:
            config = VARIANTS[variant]
        except KeyError:
            raise ValueError(f"unknown DDColor variant {variant!r}: large or tiny") from None
    for name in ("depths", "dims"):
        if name in overrides:
            overrides[name] = tuple(int(v) for v in overrides[name])
    return DDColor(replace(config, **overrides))


# --- Inference ----------------------------------------------------------------------------------


def working_side(input_size: int) -> int:
    """The square side the network runs at: input_size rounded to a multiple of 32."""
    return max(SIZE_MULTIPLE, round(int(input_size) / SIZE_MULTIPLE) * SIZE_MULTIPLE)


def model_input(gray: np.ndarray, input_size: int = DEFAULT_INPUT_SIZE) -> torch.Tensor:
    """The official pre-processing: the photo stretched to a square, its L* taken, and (L*, 0, 0)
    turned back into RGB, i.e. the neutral gray of the same lightness. Shape (1, 3, side, side),
    values in [0, 1]."""
    side = working_side(input_size)
    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    square = np.asarray(image.resize((side, side), resample=Image.BILINEAR), dtype=np.float32)
    lightness = gray_to_lightness(np.clip(square, 0.0, 1.0))
    lab = np.stack([lightness, np.zeros_like(lightness), np.zeros_like(lightness)], axis=-1)
    return torch.from_numpy(lab_to_rgb(lab)).permute(2, 0, 1)[None].contiguous()


@torch.inference_mode()
def predict_ab(
    net: Callable[[torch.Tensor], torch.Tensor],
    gray: np.ndarray,
    input_size: int = DEFAULT_INPUT_SIZE,
    device: Any = "cpu",
) -> np.ndarray:
    """Lab a, b predicted at the working size, shape (side, side, 2), float32, by `net` (the
    network, or a predictor's ml.inference runner)."""
    x = model_input(gray, input_size).to(device)
    return net(x)[0].permute(1, 2, 0).float().cpu().numpy()


class DDColorPredictor:
    """Runs DDColor as the official pipeline does: the photo's lightness goes in as gray RGB at
    input_size x input_size; the predicted a, b are stretched back to the photo's size and joined
    to its own full-resolution L* (ml.color.compose; bilinear, where the official script scales
    them with nearest-neighbour)."""

    def __init__(self, weights: Path, device: str, variant: str = "large", **config: Any) -> None:
        self.device = torch.device(device)
        self.net = build_ddcolor(variant, **config)
        load_into(self.net, weights)
        self.net.eval().to(self.device)
        # Eager (its fast forms and Winograd's convolutions beat the frozen trace, whose weights
        # outlive it: pytorch#96726).
        self.run = inference.prepare(self.net, self.device, jit=False)

    def predict(self, gray: np.ndarray, *, input_size: int, **_: Any) -> Chroma:
        return Chroma(ab=predict_ab(self.run, gray, input_size, self.device), space="lab")


# How much the random networks' colour embeddings are scaled up (`vary_like_trained`): enough
# for the decoder's maps to move a, b by 12 (DDColor-L) to 25 (DDColor-T) units, standard
# deviation over validation photos (0.002-0.005 before).
COLOUR_GAIN = 5000.0


def vary_like_trained(net: DDColor, colour_gain: float = COLOUR_GAIN) -> DDColor:
    """A randomly initialised network made to vary as a trained one does, so that comparing two
    ways of running it (`fast` against `exact`) means something: ConvNeXt's layer scales drawn
    from 0.05-0.55 (at their 1e-6 start every block is near identity, and an error in its MLP
    vanishes), and the queries' colour embeddings scaled by `colour_gain` (else the predicted
    a, b come almost only from the gray input: the decoder's share is 0.005 units)."""
    with torch.no_grad():
        for block in net.encoder.modules():
            if isinstance(block, ConvNeXtBlock):
                block.gamma.uniform_(0.05, 0.55)
        last = net.decoder.color_decoder.color_embed.layers[-1]
        last.weight.mul_(colour_gain)
        last.bias.mul_(colour_gain)
    return net


def random_weights(spec: Any, directory: Path) -> Path:
    """Random weights in the official layout for `spec` (benchmarks, tests), varying as a trained
    network's do (`vary_like_trained`)."""
    from ml.checkpoints import save_half
    from ml.weights import known

    net = vary_like_trained(build_ddcolor(spec.options.get("variant", "large")))
    path = Path(directory) / known(spec.weights).filename
    return save_half(net.state_dict(), path, wrapper="params")
