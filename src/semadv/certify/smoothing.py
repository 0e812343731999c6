"""Randomized smoothing in any space (Cohen, Rosenfeld & Kolter 2019; seed 002 §3.6, Definition 1).

g(x) = argmax_c P[F(decode(z0 + ε, x)) = c], ε ~ N(0, Σ), with ``z0 = space.encode(x)`` (seed 002's
canonical perturbation p is a shift of z0). Noise is drawn in the space's raw parameters (``coordinates=
"raw"``) or in its whitened coordinates (``"whitened"``: z = z0 + unwhiten(ε), so isotropic noise respects
the space's own metric, e.g. Σ = σ²M⁻¹ for an ellipsoid). After the noise, ``space.extra_project`` keeps
decoded inputs valid (pixel range, physical ranges); this is a fixed function of z0 + ε, so the certificate
holds for the composite base classifier.

PREDICT and CERTIFY follow Cohen et al. (Alg. "predict"/"certify"): separate selection (n0) and estimation
(n) samples, a one-sided Clopper–Pearson lower bound on p_A (``scipy.stats.beta``), ABSTAIN when
p_A_lower < ½ (certify) or when a two-sided binomial test (``scipy.stats.binomtest``) cannot separate the
top two classes (predict). Monte-Carlo is batched across inputs and noise samples in chunks of at most
``max_batch`` decoded images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats as sps

from semadv.certify.noise import NoiseModel
from semadv.checks import check_int
from semadv.errors import InputError
from semadv.spaces.base import Space
from semadv.stats import clopper_pearson

ABSTAIN = -1

BaseClassifier = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Certificate:
    """Per-input certification results (B,): prediction (ABSTAIN = −1), p_A lower bound, radii."""

    prediction: torch.Tensor
    p_lower: torch.Tensor
    radius: torch.Tensor  # Euclidean (isotropic) or volume-equivalent proxy (anisotropic), 0 if abstained
    mahalanobis_radius: torch.Tensor  # in the metric √(δᵀΣ⁻¹δ)
    counts_selection: torch.Tensor
    counts_estimation: torch.Tensor
    wall_time: float

    def correct(self, labels: torch.Tensor) -> torch.Tensor:
        return (self.prediction == labels.to(self.prediction.device)) & (self.prediction != ABSTAIN)


def certified_accuracy(cert: Certificate, labels: torch.Tensor, radii: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Fraction of inputs both correctly predicted and certified with radius ≥ r, for every r in ``radii``."""
    r = torch.as_tensor(radii, dtype=torch.float64)
    ok = cert.correct(labels)
    return ((cert.radius[None] >= r[:, None]) & ok[None]).double().mean(dim=1)


def average_certified_radius(cert: Certificate, labels: torch.Tensor) -> float:
    """ACR (Zhai et al. 2020): mean radius over inputs, counting wrong or abstained ones as 0."""
    return float(torch.where(cert.correct(labels), cert.radius, torch.zeros_like(cert.radius)).mean())


class Smoothing:
    """A smoothed classifier over ``space`` with base classifier ``base`` and Gaussian ``noise``."""

    def __init__(
        self,
        space: Space,
        base: BaseClassifier,
        noise: NoiseModel,
        num_classes: int,
        coordinates: str = "raw",
        max_batch: int = 4096,
    ) -> None:
        if coordinates not in ("raw", "whitened"):
            raise InputError(f"coordinates must be 'raw' or 'whitened'; got {coordinates!r}")
        self.space, self.base, self.noise = space, base, noise
        self.num_classes = check_int(num_classes, "num_classes", minimum=2)
        self.coordinates = coordinates
        self.max_batch = check_int(max_batch, "max_batch")

    def counts(
        self, x: torch.Tensor, n: int, generator: torch.Generator | None = None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, K) class counts of the base classifier over ``n`` noisy copies of every input (centred at
        ``z`` instead of ``encode(x)`` when given — the smoothed classifier at a shifted point)."""
        check_int(n, "n")
        x = self.space.check_source(x)
        z0 = self.space.encode(x) if z is None else z.detach()
        B = x.shape[0]
        flat0 = z0.reshape(B, -1)
        D = flat0.shape[1]
        counts = torch.zeros(B, self.num_classes, dtype=torch.int64)
        total = B * n
        with torch.no_grad():
            for start in range(0, total, self.max_batch):
                rows = torch.arange(start, min(total, start + self.max_batch))
                idx = rows // n
                eps = self.noise.sample(len(rows), D, generator, flat0.dtype).to(flat0.device)
                if self.coordinates == "whitened":
                    eps = self.space.constraint.unwhiten(eps)
                zc0 = z0[idx.to(z0.device)]
                z = self.space.extra_project((flat0[idx.to(z0.device)] + eps).reshape(zc0.shape), zc0)
                cls = self.base(self.space.decode(z, x[idx.to(x.device)]), idx).cpu().long()
                if bool(((cls < 0) | (cls >= self.num_classes)).any()):
                    raise InputError(f"base classifier returned a class outside [0, {self.num_classes})")
                counts.index_put_((idx, cls), torch.ones_like(cls), accumulate=True)
        return counts

    def predict(
        self, x: torch.Tensor, n: int, alpha: float = 0.001, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Cohen et al.'s PREDICT: the top class, or ABSTAIN if a two-sided binomial test of the top two
        counts is not significant at ``alpha``."""
        c = self.counts(x, n, generator)
        top2 = c.topk(2, dim=1)
        na, nb = top2.values[:, 0], top2.values[:, 1]
        p = torch.tensor(
            [
                sps.binomtest(int(a), int(a + b), 0.5).pvalue if a + b > 0 else 1.0
                for a, b in zip(na.tolist(), nb.tolist(), strict=True)
            ]
        )
        return torch.where(p <= alpha, top2.indices[:, 0], torch.full_like(na, ABSTAIN))

    def certify(
        self,
        x: torch.Tensor,
        n0: int = 100,
        n: int = 10_000,
        alpha: float = 0.001,
        generator: torch.Generator | None = None,
        bound_pb: bool = False,
    ) -> Certificate:
        """Cohen et al.'s CERTIFY with separate selection (``n0``) and estimation (``n``) samples.

        ``bound_pb``: also bound p_B from above (Bonferroni, α/2 each) and use the radius
        ½(Φ⁻¹(p_A) − Φ⁻¹(p_B)) of seed 002 Proposition 1; otherwise p_B = 1 − p_A.
        """
        t0 = time.perf_counter()
        c0 = self.counts(x, n0, generator)
        ca = c0.argmax(dim=1)
        c = self.counts(x, n, generator)
        na = c.gather(1, ca[:, None])[:, 0]
        a = alpha / 2 if bound_pb else alpha
        p_lower = torch.as_tensor(clopper_pearson(na.numpy(), n, a, side="lower")[0], dtype=torch.float64)
        p_b = None
        if bound_pb:
            nb = c.scatter(1, ca[:, None], -1).amax(dim=1).clamp_min(0)
            p_b = torch.as_tensor(clopper_pearson(nb.numpy(), n, a, side="upper")[1], dtype=torch.float64)
        abstain = p_lower < 0.5 if p_b is None else p_lower <= p_b
        mahal = torch.where(abstain, torch.zeros_like(p_lower), self.noise.mahalanobis_radius(p_lower, p_b))
        radius = torch.where(abstain, torch.zeros_like(p_lower), self.noise.radius(p_lower, p_b))
        pred = torch.where(abstain, torch.full_like(ca, ABSTAIN), ca)
        return Certificate(pred, p_lower, radius, mahal, c0, c, time.perf_counter() - t0)
