"""Parts that adversarial and averaged training share: DeOldify's patch critic (DeOldify's own
GAN phase, and DDColor's discriminator in Coloria's pipeline) and the exponential moving average
of weights that BigColor's official run keeps (torch-ema's form)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ml.models.deoldify import SelfAttention, SpectralNormConv
from ml.train.common import TrainingError


def _critic_conv(
    cin: int, cout: int, kernel: int, stride: int, *, attention: bool = False
) -> nn.Sequential:
    layers: list[nn.Module] = [
        SpectralNormConv(cin, cout, kernel, bias=True, padding=(kernel - 1) // 2, stride=stride),
        nn.LeakyReLU(0.2, inplace=True),
    ]
    if attention:
        layers.append(SelfAttention(cout))
    return nn.Sequential(*layers)


def build_critic(nf: int = 256, blocks: int = 3, dropout: float = 0.15) -> nn.Sequential:
    """DeOldify's critic: strided spectral-norm convs, dropout, one self-attention layer; one
    logit per patch (the loss averages them)."""
    layers: list[nn.Module] = [
        _critic_conv(3, nf, 4, 2),
        nn.Dropout2d(dropout / 2),
        _critic_conv(nf, nf, 3, 1),
    ]
    for i in range(blocks):
        layers += [
            _critic_conv(nf, nf, 3, 1),
            nn.Dropout2d(dropout),
            _critic_conv(nf, nf * 2, 4, 2, attention=i == 0),
        ]
        nf *= 2
    layers += [
        _critic_conv(nf, nf, 3, 1),
        SpectralNormConv(nf, 1, 4, bias=False, padding=0),
        nn.Flatten(),
    ]
    return nn.Sequential(*layers)


class ParameterEMA:
    """torch-ema's ExponentialMovingAverage, which the official run uses: decay
    min(decay, (1 + n) / (10 + n)) at update n, over every parameter in `parameters()` order; its
    state has torch-ema's form (decay, num_updates, shadow_params), like EG_EMA_011.ckpt."""

    def __init__(self, parameters: list[torch.Tensor], decay: float) -> None:
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = [p.detach().clone() for p in parameters]

    @torch.no_grad()
    def update(self, parameters: list[torch.Tensor]) -> None:
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for shadow, parameter in zip(self.shadow, parameters, strict=True):
            shadow.lerp_(parameter.detach(), 1.0 - decay)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow_params": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["shadow_params"]) != len(self.shadow):
            raise TrainingError("the checkpoint's averaged weights do not fit this network")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        with torch.no_grad():
            for shadow, saved in zip(self.shadow, state["shadow_params"], strict=True):
                shadow.copy_(saved)


def critic_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """The standard GAN loss of a critic's logits for real (True) or generated images."""
    logits = logits.float()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
