"""Small architectures of the zoo (digits for now). Every victim takes images in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyCNN(nn.Module):
    """A 3-layer CNN for 1×16×16 digits (a victim for demos and tests)."""

    def __init__(self, channels: int = 1, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.LazyLinear(classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLP(nn.Module):
    """Seed 001's attacked MLP f1: one hidden layer of 128 units."""

    def __init__(self, side: int = 16, hidden: int = 128, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(side * side, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet(nn.Module):
    """LeNet-5 style CNN for 16×16 inputs (seed 001's second victim)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8
            nn.Conv2d(6, 16, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 3×3
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 3 * 3, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class JudgeCNN(nn.Module):
    """The independent digit judge: a GroupNorm CNN with global pooling (unlike every victim)."""

    def __init__(self, classes: int = 10, width: int = 24) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.GroupNorm(4, w),
            nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.GroupNorm(4, w),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.GroupNorm(4, 2 * w),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.GroupNorm(4, 2 * w),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * w, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SVAE(nn.Module):
    """Supervised VAE of seed 001 §III-A: encoder (μ, log σ²), decoder, latent classifier f2 and latent
    discriminator f_dis (real encodings vs N(0, I) samples; output is a logit)."""

    def __init__(self, latent: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.latent = latent
        self.enc = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),
            nn.ReLU(),  # 8×8
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),  # 4×4
            nn.Flatten(),
            nn.Linear(64 * 16, 128),
            nn.ReLU(),
        )
        self.mu = nn.Linear(128, latent)
        self.logvar = nn.Linear(128, latent)
        self.dec_fc = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64 * 16), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),  # 8×8
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 16×16
        )
        self.f2 = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, classes))
        self.dis = nn.Sequential(
            nn.Linear(latent, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h).clamp(-10, 6)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(self.dec_fc(z).reshape(-1, 64, 4, 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of the latent classifier f2 at μ(x) (so the SVAE can also act as a victim)."""
        return self.f2(self.encode(x)[0])

    def stage1_loss(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """−(Eq. 6) plus the reconstruction term: BCE(x̂, x) + KL(q(z|x) ‖ N(0, I)) + CE(f2(z), y)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        rec = F.binary_cross_entropy(self.decode(z), x, reduction="none").flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
        ce = F.cross_entropy(self.f2(z), y)
        return rec + kl + 50.0 * ce, {"rec": float(rec), "kl": float(kl), "ce": float(ce)}

    def stage2_loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Eq. (7): the discriminator separates z_true ~ q(z|x) from z_fake ~ N(0, I) (BCE on logits)."""
        with torch.no_grad():
            mu, logvar = self.encode(x)
            z_true = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
            z_fake = torch.randn(mu.shape, generator=generator)
        logits = self.dis(torch.cat([z_true, z_fake]))[:, 0]
        target = torch.cat([torch.ones(len(z_true)), torch.zeros(len(z_fake))])
        return F.binary_cross_entropy_with_logits(logits, target)


class CVAE(nn.Module):
    """Class-conditional digit generator (conditional VAE, Sohn et al. 2015) with an auxiliary classifier
    on images, for latent-space Type I attacks (seed 001 §III-D, Eq. 13). ``generate(z, y)`` decodes latent
    ``z`` (B, latent) for class ``y``; ``forward(x)`` returns the auxiliary classifier's logits."""

    def __init__(self, latent: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.latent, self.classes = latent, classes
        self.enc = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.enc_fc = nn.Sequential(nn.Linear(64 * 16 + classes, 128), nn.ReLU())
        self.mu = nn.Linear(128, latent)
        self.logvar = nn.Linear(128, latent)
        self.dec_fc = nn.Sequential(nn.Linear(latent + classes, 128), nn.ReLU(), nn.Linear(128, 64 * 16), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),
        )
        self.aux = LeNet(classes)

    def _onehot(self, y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if y.is_floating_point():  # soft labels (B, classes) are accepted as they are
            return y.to(like)
        return F.one_hot(y.long(), self.classes).to(like)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc_fc(torch.cat([self.enc(x), self._onehot(y, x)], 1))
        return self.mu(h), self.logvar(h).clamp(-10, 6)

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.dec_fc(torch.cat([z, self._onehot(y, z)], 1)).reshape(-1, 64, 4, 4)
        return torch.sigmoid(self.dec(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aux(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """ELBO (BCE + KL) + auxiliary CE on real images + class consistency of samples (AC-GAN's auxiliary
        term applied to the generator, weight 5)."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        rec = F.binary_cross_entropy(self.generate(z, y), x, reduction="none").flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
        aux = F.cross_entropy(self.aux(x), y)
        y_new = torch.randint(0, self.classes, y.shape, generator=generator)
        fake = self.generate(torch.randn(mu.shape, generator=generator), y_new)
        consistency = F.cross_entropy(self.aux(fake), y_new)
        return rec + kl + 10.0 * aux + 5.0 * consistency
