"""Statistics for every rate the toolkit reports: binomial intervals, bootstrap, McNemar, and the
attribute-energy ranking of seed 002 §3.5 (Friedman before each pick, Wilcoxon for adjacent pairs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats as sps

from semadv.errors import InputError


def _check_counts(k: int | np.ndarray, n: int | np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    k_a, n_a = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    if np.any(n_a < 0) or np.any(k_a < 0) or np.any(k_a > n_a):
        raise InputError(f"need 0 <= k <= n; got k={k!r}, n={n!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1); got {alpha!r}")
    return k_a, n_a


def clopper_pearson(
    k: int | np.ndarray, n: int | np.ndarray, alpha: float = 0.05, side: str = "two"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial (Clopper–Pearson) interval for k successes in n trials, via ``scipy.stats.beta``.

    ``side="two"``: level 1−α two-sided; ``"lower"``: one-sided lower bound at 1−α (upper = 1);
    ``"upper"``: one-sided upper bound (lower = 0). Bounds are exact at the edges (k = 0, k = n).
    """
    k_a, n_a = _check_counts(k, n, alpha)
    a = alpha / 2 if side == "two" else alpha
    if side not in ("two", "lower", "upper"):
        raise InputError(f"side must be 'two', 'lower' or 'upper'; got {side!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k_a == 0, 0.0, sps.beta.ppf(a, k_a, n_a - k_a + 1))
        hi = np.where(k_a == n_a, 1.0, sps.beta.ppf(1 - a, k_a + 1, n_a - k_a))
    if side == "lower":
        hi = np.ones_like(hi)
    elif side == "upper":
        lo = np.zeros_like(lo)
    return lo, hi


def wilson(k: int | np.ndarray, n: int | np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (two-sided, level 1−α)."""
    k_a, n_a = _check_counts(k, n, alpha)
    z = sps.norm.ppf(1 - alpha / 2)
    n_f = np.maximum(n_a, 1).astype(float)
    p = k_a / n_f
    den = 1 + z * z / n_f
    centre = (p + z * z / (2 * n_f)) / den
    half = z * np.sqrt(p * (1 - p) / n_f + z * z / (4 * n_f * n_f)) / den
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray | torch.Tensor,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (seeded)."""
    v = np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values, dtype=float)
    if v.size == 0:
        raise InputError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    boots = np.array([statistic(v[i]) for i in idx])
    return float(np.quantile(boots, alpha / 2)), float(np.quantile(boots, 1 - alpha / 2))


@dataclass(frozen=True)
class McNemarResult:
    b: int  # A right, B wrong
    c: int  # A wrong, B right
    pvalue: float
    exact: bool


def mcnemar(
    correct_a: Sequence[bool] | torch.Tensor, correct_b: Sequence[bool] | torch.Tensor, exact_below: int = 25
) -> McNemarResult:
    """McNemar's test for paired outcomes (two models on the same samples). Exact binomial test (``scipy.
    stats.binomtest``) when the discordant count is below ``exact_below``, else χ² with continuity correction."""
    a = np.asarray(correct_a, dtype=bool)
    bb = np.asarray(correct_b, dtype=bool)
    if a.shape != bb.shape:
        raise InputError(f"paired outcomes differ in shape: {a.shape} vs {bb.shape}")
    b = int(np.sum(a & ~bb))
    c = int(np.sum(~a & bb))
    if b + c == 0:
        return McNemarResult(b, c, 1.0, True)
    if b + c < exact_below:
        return McNemarResult(b, c, float(sps.binomtest(b, b + c, 0.5).pvalue), True)
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemarResult(b, c, float(sps.chi2.sf(chi2, 1)), False)


@dataclass(frozen=True)
class Ranking:
    """Attribute-energy ranking (seed 002 §3.5).

    ``order``: attribute indices ranked by energy, most energy first, as far as the Friedman tests allow;
    ``tied``: the remaining attributes with no significant difference among them; ``friedman_p``: the
    p-value tested before each pick; ``wilcoxon_p``: one-sided p-values for each adjacent pair of the full
    candidate ranking (order + tied by votes), "attribute i gets more energy than attribute i+1".
    """

    order: tuple[int, ...]
    tied: tuple[int, ...]
    friedman_p: tuple[float, ...]
    wilcoxon_p: tuple[float, ...]
    votes: tuple[float, ...]
    alpha: float

    @property
    def candidate(self) -> tuple[int, ...]:
        return self.order + self.tied


def normalized_energy(
    eta: torch.Tensor | np.ndarray, budgets: Sequence[float] | torch.Tensor | np.ndarray
) -> np.ndarray:
    """η̂ᵢ = ηᵢ² / (εᵢ² ‖η‖²_M) with M = diag(ε⁻²): each row sums to 1 (seed 002 §3.5)."""
    e = np.asarray(eta.detach().cpu() if isinstance(eta, torch.Tensor) else eta, dtype=float)
    b = np.asarray(budgets.cpu() if isinstance(budgets, torch.Tensor) else budgets, dtype=float)
    if e.ndim != 2 or b.shape != (e.shape[1],):
        raise InputError(f"eta must be (samples, N) and budgets (N,); got {e.shape} and {b.shape}")
    w = e**2 / b**2
    tot = w.sum(axis=1, keepdims=True)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


def attribute_ranking(
    eta: torch.Tensor | np.ndarray, budgets: Sequence[float] | torch.Tensor | np.ndarray, alpha: float = 0.05
) -> Ranking:
    """Rank attributes by the energy adversarial perturbations ``eta`` (samples, N) spend on them.

    Each perturbation votes with its normalised energies; the attribute with the largest vote sum among
    the remaining ones wins, provided a Friedman test (``scipy.stats.friedmanchisquare``; Wilcoxon when two
    remain) finds a significant difference among the remaining attributes at level ``alpha``. Adjacent
    pairs of the candidate ranking are validated with one-sided Wilcoxon signed-rank tests.
    """
    E = normalized_energy(eta, budgets)
    n, N = E.shape
    if n < 3 or N < 2:
        raise InputError(f"ranking needs >= 3 perturbations and >= 2 attributes; got {n} and {N}")
    votes = E.sum(axis=0)
    remaining = list(np.argsort(-votes, kind="stable"))
    order: list[int] = []
    fried: list[float] = []
    while len(remaining) > 1:
        cols = [E[:, i] for i in remaining]
        p = float(sps.friedmanchisquare(*cols).pvalue) if len(cols) >= 3 else _wilcoxon(cols[0], cols[1], "two-sided")
        fried.append(p)
        if not p < alpha:
            break
        order.append(int(remaining.pop(0)))
    if len(remaining) == 1:
        order.append(int(remaining.pop(0)))
    cand = order + [int(i) for i in remaining]
    wil = tuple(_wilcoxon(E[:, cand[i]], E[:, cand[i + 1]], "greater") for i in range(N - 1))
    return Ranking(
        tuple(order), tuple(int(i) for i in remaining), tuple(fried), wil, tuple(float(v) for v in votes), alpha
    )


def _wilcoxon(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    d = a - b
    if np.allclose(d, 0):
        return 1.0
    return float(sps.wilcoxon(a, b, alternative=alternative, zero_method="zsplit").pvalue)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a, b (N, d) (the FID formula on our own
    world-trained features, since Inception weights are unavailable)."""
    from scipy import linalg

    a64, b64 = a.double().numpy(), b.double().numpy()
    mu1, mu2 = a64.mean(0), b64.mean(0)
    s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
