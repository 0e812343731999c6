"""Randomized smoothing in any space: exact cases, abstention, anisotropic radii, audit, coverage."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from semadv.certify import (
    ABSTAIN,
    Anisotropic,
    GalleryClassifier,
    Isotropic,
    LogitsClassifier,
    Smoothing,
    VerificationClassifier,
    audit,
    average_certified_radius,
    certified_accuracy,
)
from semadv.constraints import Ellipsoid, LpBall
from semadv.errors import ConstraintError, InputError
from semadv.spaces import LatentSpace


def G(w):  # a latent "generator": the first 4 latent coordinates as a 1×2×2 image through a sigmoid
    return torch.sigmoid(w[:, :4].reshape(-1, 1, 2, 2))


SPACE = LatentSpace(G, LpBall(1.0, 2))


def linear_logits(img):
    """Class 1 when the first latent coordinate > 0 (read back through the sigmoid)."""
    s = torch.logit(img.reshape(len(img), -1)[:, 0].clamp(1e-6, 1 - 1e-6))
    return torch.stack([-s, s], dim=1)


def test_constant_classifier_exact_bound_and_radius():
    const = lambda img, idx: torch.full((len(img),), 2, dtype=torch.long)
    sm = Smoothing(SPACE, const, Isotropic(0.5), 3, max_batch=333)
    n, alpha = 1000, 0.001
    c = sm.certify(torch.zeros(5, 6), n0=50, n=n, alpha=alpha, generator=torch.Generator().manual_seed(0))
    assert c.prediction.tolist() == [2] * 5
    expected = alpha ** (1 / n)
    torch.testing.assert_close(c.p_lower, torch.full((5,), expected, dtype=torch.float64), rtol=1e-12, atol=0)
    torch.testing.assert_close(c.radius, torch.full((5,), 0.5 * norm.ppf(expected), dtype=torch.float64))
    assert c.counts_estimation.sum(1).tolist() == [n] * 5 and c.counts_selection.sum(1).tolist() == [50] * 5


def test_tie_abstains():
    # the class is the sign of the first noise coordinate: p = 1/2 for both classes
    sm = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(1.0), 2)
    x = torch.zeros(6, 6)
    g = torch.Generator().manual_seed(0)
    c = sm.certify(x, 100, 2000, 0.001, g)
    assert c.prediction.tolist() == [ABSTAIN] * 6 and bool((c.radius == 0).all())
    assert sm.predict(x, 2000, 0.001, g).tolist() == [ABSTAIN] * 6


def test_linear_classifier_radius_matches_theory():
    """F(z) = 1[z₁ > 0] at z₁ = μ: p_A = Φ(μ/σ), so the certified radius approaches μ (Cohen Thm. 1 is
    tight for linear classifiers)."""
    sm = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2)
    x = torch.zeros(4, 6)
    x[:, 0] = torch.tensor([0.2, 0.4, 0.6, 0.8])
    c = sm.certify(x, 100, 20_000, 0.001, torch.Generator().manual_seed(1))
    assert c.prediction.tolist() == [1, 1, 1, 1]
    assert bool((c.radius <= x[:, 0].double() + 0.02).all()) and bool((c.radius >= x[:, 0].double() - 0.12).all())


def test_anisotropic_equals_isotropic_for_scaled_identity():
    sig = 0.7
    iso, aniso = Isotropic(sig), Anisotropic(torch.full((6,), sig**2))
    p = torch.tensor([0.6, 0.9, 0.999], dtype=torch.float64)
    torch.testing.assert_close(aniso.radius(p), iso.radius(p))
    pb = torch.tensor([0.1, 0.05, 0.0005], dtype=torch.float64)
    torch.testing.assert_close(aniso.radius(p, pb), iso.radius(p, pb))
    # seed 002: Σ = σ·M⁻¹ → proxy = R_Σ · (σⁿ/det M)^{1/(2n)}
    E = Ellipsoid.from_budgets([0.5, 0.2, 0.8])
    a = Anisotropic.from_ellipsoid(E, 2.0)
    expected = norm.ppf(0.9) * math.sqrt(2.0) * (0.5 * 0.2 * 0.8) ** (1 / 3)
    assert float(a.radius(torch.tensor([0.9], dtype=torch.float64))) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ConstraintError, match="smallest eigenvalue"):
        Anisotropic(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))


def test_anisotropic_smoothing_samples_have_the_covariance():
    Sigma = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    eps = Anisotropic(Sigma).sample(200_000, 2, torch.Generator().manual_seed(0), torch.float64)
    torch.testing.assert_close(torch.cov(eps.T), Sigma, atol=0.02, rtol=0.02)


def test_batched_counts_are_deterministic_and_chunk_independent_in_distribution():
    sm1 = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2, max_batch=10_000)
    sm2 = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2, max_batch=97)
    x = torch.zeros(3, 6)
    x[:, 0] = 0.3
    a = sm1.counts(x, 4000, torch.Generator().manual_seed(5))
    assert torch.equal(a, sm1.counts(x, 4000, torch.Generator().manual_seed(5)))
    b = sm2.counts(x, 4000, torch.Generator().manual_seed(6))
    p = norm.cdf(0.3 / 0.5)
    for c in (a, b):
        assert bool(((c[:, 1] / 4000 - p).abs() < 4 * math.sqrt(p * (1 - p) / 4000)).all())


def test_certified_accuracy_and_acr():
    sm = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2)
    x = torch.zeros(4, 6)
    x[:, 0] = torch.tensor([0.5, 1.0, -0.5, 0.0])
    c = sm.certify(x, 100, 5000, 0.001, torch.Generator().manual_seed(2))
    labels = torch.tensor([1, 1, 1, 0])  # the third is predicted 0 (wrong), the fourth abstains
    curve = certified_accuracy(c, labels, torch.tensor([0.0, 0.3, 0.8]))
    assert curve.tolist() == [0.5, 0.5, 0.25]
    acr = average_certified_radius(c, labels)
    assert acr == pytest.approx(float(c.radius[:2].sum()) / 4)


def test_gallery_and_verification_adapters():
    emb = lambda img: img.reshape(len(img), -1)
    gallery = torch.eye(4)
    gc = GalleryClassifier(emb, gallery, labels=torch.tensor([3, 2, 1, 0]))
    imgs = torch.eye(4)[[2, 0]].reshape(2, 1, 2, 2) + 0.01
    assert gc(imgs).tolist() == [1, 3]
    vc = VerificationClassifier(emb, gallery, threshold=0.5)
    assert vc(imgs, torch.tensor([2, 1])).tolist() == [1, 0]
    with pytest.raises(InputError, match="batch size mismatch"):
        vc(imgs)


def test_audit_finds_no_violation_for_sound_certificates_and_flags_inflated_ones():
    sm = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2)
    x = torch.zeros(6, 6)
    x[:, 0] = torch.linspace(0.4, 1.0, 6)
    g = torch.Generator().manual_seed(3)
    c = sm.certify(x, 100, 5000, 0.001, g)
    rep = audit(sm, x, c, n=5000, points=4, logits=lambda img: linear_logits(img), generator=g)
    assert rep.inputs == 6 and rep.points == 30 and rep.violations == 0
    bad = dataclasses.replace(c, mahalanobis_radius=c.mahalanobis_radius * 4)
    rep = audit(sm, x, bad, n=5000, points=4, logits=lambda img: linear_logits(img), generator=g)
    assert rep.violations > 0 and rep.base_flips > 0


def test_bad_arguments():
    with pytest.raises(InputError, match="coordinates"):
        Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(0.5), 2, coordinates="pixels")
    with pytest.raises(ConstraintError, match="sigma"):
        Isotropic(0.0)
    bad = lambda img, idx: torch.full((len(img),), 7)
    with pytest.raises(InputError, match="outside"):
        Smoothing(SPACE, bad, Isotropic(0.5), 2).counts(torch.zeros(1, 6), 10)


@pytest.mark.slow
def test_coverage_of_the_lower_bound():
    """Over 400 repetitions the one-sided bound p_A_lower ≤ p_A holds at rate ≥ 1 − α (α = 0.05)."""
    sm = Smoothing(SPACE, LogitsClassifier(linear_logits), Isotropic(1.0), 2, max_batch=100_000)
    mu = 0.5
    p_true = norm.cdf(mu)
    x = torch.zeros(400, 6)
    x[:, 0] = mu
    c = sm.certify(x, 50, 200, 0.05, torch.Generator().manual_seed(11))
    ok = (c.prediction == 1) & (c.p_lower <= p_true) | (c.prediction != 1)
    held = float(ok.double().mean())
    # binomial slack: 3 standard errors below 0.95 would still be consistent
    assert held >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / 400), held


def _oblique_logits(img):
    """Class 1 when wᵀz > 0 for w = (1, 2, −1, 0.5) on the four latent coordinates the image shows."""
    z = torch.logit(img.reshape(len(img), -1).clamp(1e-6, 1 - 1e-6))
    s = z @ torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=z.dtype)
    return torch.stack([-s, s], dim=1)


def test_anisotropic_linear_certificate_matches_the_closed_form():
    """Known-radius test (issue 21): for F(z) = 1[wᵀz > 0] under N(0, Σ), p_A = Φ(wᵀz0 / √(wᵀΣw)), so the
    Mahalanobis radius Φ⁻¹(p_A) must approach the exact Σ⁻¹-distance to the hyperplane, |wᵀz0| / √(wᵀΣw);
    the certified radius is a lower bound (Clopper–Pearson at α) within Monte-Carlo error of it."""
    w = torch.tensor([1.0, 2.0, -1.0, 0.5, 0.0, 0.0], dtype=torch.float64)
    Sigma = torch.diag(torch.tensor([0.3, 0.1, 0.5, 0.2, 1.0, 1.0], dtype=torch.float64))
    Sigma[0, 1] = Sigma[1, 0] = 0.05
    sm = Smoothing(SPACE, LogitsClassifier(_oblique_logits), Anisotropic(Sigma), 2)
    x = torch.zeros(5, 6)
    x[:, 0] = torch.tensor([0.3, 0.5, 0.8, 1.2, 2.0])
    n, alpha = 20_000, 0.001
    c = sm.certify(x, 100, n, alpha, torch.Generator().manual_seed(3))
    exact = (x.double() @ w) / torch.sqrt(w @ Sigma @ w)
    assert c.prediction.tolist() == [1] * 5
    # the bound never exceeds the truth (soundness) and is within MC error below it
    p_true = torch.tensor(norm.cdf(exact.numpy()))
    slack = torch.tensor(
        norm.ppf(p_true.numpy())
        - norm.ppf(np.clip(p_true.numpy() - 4 * np.sqrt(p_true.numpy() * (1 - p_true.numpy()) / n) - 0.004, 1e-9, 1))
    )
    assert bool((c.mahalanobis_radius <= exact + 1e-6).all())
    assert bool((c.mahalanobis_radius >= exact - slack).all()), (c.mahalanobis_radius, exact, slack)
    # isotropic special case: Σ = σ²I gives the Euclidean distance to the hyperplane times 1/σ
    iso = Smoothing(SPACE, LogitsClassifier(_oblique_logits), Isotropic(0.5), 2).certify(
        x, 100, n, alpha, torch.Generator().manual_seed(4)
    )
    euclid = (x.double() @ w) / w.norm()
    assert bool((iso.radius <= euclid + 1e-6).all()) and bool((iso.radius >= euclid - 0.1).all())
