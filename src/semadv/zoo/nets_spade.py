"""SPADE-lite: a layout-conditioned generator with spatially-adaptive normalisation (Park et al. 2019),
as used by AdvSPADE (seed 004 §3 and Appendix) and by SemanticAdv's street attack (seed 000 §4.3).

* :class:`StyleEncoder` — image → (μ, log σ²) of a style code z (KL-regularised, multi-modal styles).
* :class:`SpadeGenerator` — (layout one-hot, z) → image in [0, 1] through SPADE residual blocks; the
  encoder/decoder split is exposed: ``features(layout, z, k)`` returns the feature map after block k and
  ``decode_from(f, layout, k)`` finishes the image from it (SemanticAdv interpolates these maps).
* :class:`MultiScaleDiscriminator` — PatchGAN discriminators at two scales on (image, layout), returning
  intermediate features for the feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

N_CLASSES = 8


class Spade(nn.Module):
    """x ↦ BN(x)·(1 + γ(layout)) + β(layout), γ and β predicted per pixel from the resized layout."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(N_CLASSES, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        seg = F.interpolate(layout, size=x.shape[-2:], mode="nearest")
        h = self.shared(seg)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class SpadeBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = min(cin, cout)
        self.n0, self.c0 = Spade(cin), nn.Conv2d(cin, mid, 3, padding=1)
        self.n1, self.c1 = Spade(mid), nn.Conv2d(mid, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else None
        self.sn = Spade(cin) if cin != cout else None

    def forward(self, x: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        dx = self.c0(F.leaky_relu(self.n0(x, layout), 0.2))
        dx = self.c1(F.leaky_relu(self.n1(dx, layout), 0.2))
        s = x if self.skip is None or self.sn is None else self.skip(self.sn(x, layout))
        return s + dx


class StyleEncoder(nn.Module):
    def __init__(self, zdim: int = 32, width: int = 16) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.InstanceNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            nn.InstanceNorm2d(4 * w),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d((2, 4)),
            nn.Flatten(),
        )
        self.mu = nn.Linear(4 * w * 8, zdim)
        self.logvar = nn.Linear(4 * w * 8, zdim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x)
        return self.mu(h), self.logvar(h).clamp(-8, 4)


class SpadeGenerator(nn.Module):
    CHANNELS = (64, 48, 32, 24, 16)

    def __init__(self, zdim: int = 32) -> None:
        super().__init__()
        self.zdim = zdim
        c = self.CHANNELS
        self.fc = nn.Linear(zdim, c[0] * 4 * 8)
        self.blocks = nn.ModuleList([SpadeBlock(c[i], c[i + 1]) for i in range(len(c) - 1)])
        self.out = nn.Conv2d(c[-1], 3, 3, padding=1)
        self.encoder = StyleEncoder(zdim)

    @staticmethod
    def one_hot(labels: torch.Tensor) -> torch.Tensor:
        """Label map (B, H, W) → one-hot layout (B, 8, H, W)."""
        return F.one_hot(labels.long(), N_CLASSES).permute(0, 3, 1, 2).float()

    def features(self, layout: torch.Tensor, z: torch.Tensor, k: int) -> torch.Tensor:
        """Feature map after ``k`` SPADE blocks (k = 0: the projected style code, 4×8)."""
        x = self.fc(z).reshape(-1, self.CHANNELS[0], 4, 8)
        for block in self.blocks[:k]:
            x = block(x, layout)
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x

    def decode_from(self, x: torch.Tensor, layout: torch.Tensor, k: int) -> torch.Tensor:
        for block in self.blocks[k:]:
            x = block(x, layout)
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return torch.sigmoid(self.out(F.leaky_relu(x, 0.2)))

    def forward(self, layout: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Image (B, 3, 64, 128) in [0, 1] for a one-hot layout and a style code."""
        return self.decode_from(self.features(layout, z, 0), layout, 0)

    def sample_style(
        self,
        image: torch.Tensor | None,
        n: int,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, μ, log σ²): z = μ + σ·ε from the encoder when ``image`` is given, else z ~ N(0, I)."""
        if image is None:
            z = torch.randn(n, self.zdim, generator=generator)
            return z, torch.zeros_like(z), torch.zeros_like(z)
        mu, logvar = self.encoder(image)
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator), mu, logvar


class _Patch(nn.Module):
    def __init__(self, width: int = 24) -> None:
        super().__init__()
        w = width
        self.layers = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(3 + N_CLASSES, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2)),
                nn.Sequential(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2)),
                nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2)),
                nn.Conv2d(4 * w, 1, 3, padding=1),
            ]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiScaleDiscriminator(nn.Module):
    """Two PatchGAN discriminators, at full and half resolution; each returns its features, last = logits."""

    def __init__(self) -> None:
        super().__init__()
        self.ds = nn.ModuleList([_Patch(), _Patch()])

    def forward(self, image: torch.Tensor, layout: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([image * 2 - 1, layout], 1)
        outs = []
        for i, d in enumerate(self.ds):
            outs.append(d(x if i == 0 else F.avg_pool2d(x, 2)))
        return outs


class SpadeModel(nn.Module):
    """Generator (with its style encoder) and discriminator in one module for the zoo."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = SpadeGenerator()
        self.discriminator = MultiScaleDiscriminator()

    def forward(self, labels: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generator(SpadeGenerator.one_hot(labels), z)
