"""Searches on small analytic problems and on the trained digits classifier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semadv import (
    FAB,
    FGSM,
    PGD,
    AdamPenalty,
    Attack,
    Ellipsoid,
    GridSearch,
    LatentSpace,
    LossGoal,
    Misclassification,
    PixelSpace,
    RandomSearch,
    TransformSpace,
)
from semadv.errors import InputError
from semadv.search import hyperplane_step


class Linear2(nn.Module):
    """Logits (x̄, 0.5): class 0 when the mean pixel exceeds 0.5."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, torch.full_like(m, 0.5)], dim=1)


def test_fgsm_and_pgd_on_linear_problem():
    x = torch.full((4, 1, 2, 2), 0.6)
    y = torch.zeros(4, dtype=torch.long)
    goal = Misclassification(loss="margin")
    r = Attack(goal, PixelSpace(eps=0.05), FGSM())(Linear2(), x, y)
    assert not bool(r.success.any())  # needs 0.1 to cross
    r = Attack(goal, PixelSpace(eps=0.15), FGSM())(Linear2(), x, y)
    assert bool(r.success.all())
    torch.testing.assert_close(r.x_adv, torch.full_like(x, 0.45))
    r = Attack(goal, PixelSpace(eps=0.15), PGD(steps=10, alpha=0.02))(Linear2(), x, y)
    assert bool(r.success.all()) and r.steps.tolist() == [6, 6, 6, 6]  # early stop after crossing 0.5


def test_fab_finds_minimum_l2_and_linf_on_linear_problem():
    x = torch.full((3, 1, 2, 2), 0.6)
    y = torch.zeros(3, dtype=torch.long)
    goal = Misclassification()
    r2 = Attack(goal, PixelSpace(eps=10, p=2), FAB(steps=20))(Linear2(), x, y)
    ri = Attack(goal, PixelSpace(eps=10), FAB(steps=20))(Linear2(), x, y)
    assert bool(r2.success.all()) and bool(ri.success.all())
    # the exact minima are 0.1·√4 = 0.2 (L2) and 0.1 (L∞)
    assert torch.allclose(r2.distance, torch.full((3,), 0.2), rtol=0.06)
    assert torch.allclose(ri.distance, torch.full((3,), 0.1), rtol=0.06)


def test_targeted_fab_reaches_target_with_small_norm(digits_model):
    model, x, y, _ = digits_model
    x, y = x[:40], y[:40]
    t = (y + 1) % 10
    goal = Misclassification(targeted=True)
    fab = Attack(goal, PixelSpace(eps=10.0, p=2), FAB(steps=20))(model, x, t)
    assert fab.success_rate > 0.9
    with torch.no_grad():
        assert torch.equal(model(fab.x_adv).argmax(1)[fab.success], t[fab.success])
    # PGD-L2 with the budget set to FAB's norm (slightly shrunk) rarely does better: FAB is near-minimal
    untargeted = Attack(Misclassification(), PixelSpace(eps=10.0, p=2), FAB(steps=20))(model, x, y)
    both = fab.success & untargeted.success
    assert float(untargeted.distance[both].median()) <= float(fab.distance[both].median()) + 1e-6


def test_hyperplane_step_respects_box_and_plane():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(50, 8, generator=g, dtype=torch.float64)
    c = torch.randn(50, generator=g, dtype=torch.float64)
    lo, hi = (
        -torch.rand(50, 8, generator=g, dtype=torch.float64),
        torch.rand(50, 8, generator=g, dtype=torch.float64),
    )
    for p in (2.0, float("inf")):
        d = hyperplane_step(w, c, lo, hi, p)
        assert bool(((d >= lo - 1e-12) & (d <= hi + 1e-12)).all())
        feasible_max = (
            torch.where(w * c[:, None] > 0, w * torch.where(w > 0, hi, lo), w * torch.where(w > 0, lo, hi))
        ).sum(1).abs() >= c.abs()
        reached = ((w * d).sum(1) - c).abs() < 1e-6
        assert bool(reached[feasible_max].all())
        free = hyperplane_step(w, c, None, None, p)
        torch.testing.assert_close((w * free).sum(1), c)


def test_ellipsoid_pgd_and_fab_in_latent_space():
    """Seed 002 in miniature: η on an ellipsoid ‖η‖_M ≤ 1, M = diag(ε⁻²), a linear generator and victim.

    The boundary is aᵀη = c, so the minimum M-norm crossing is exactly |c| / sqrt(aᵀM⁻¹a).
    """
    d = 4
    B = torch.randn(d, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def G(w):
        return (0.5 + 0.01 * (w @ B)).reshape(-1, 3, 2, 2)

    w = torch.full((5, d), 0.0, dtype=torch.float64)
    w[:, 0] = torch.linspace(1.0, 3.0, 5, dtype=torch.float64) * torch.sign(B[0].mean())
    y = torch.zeros(5, dtype=torch.long)  # mean(G(w)) > 0.5 → class 0
    V = torch.eye(d, dtype=torch.float64)
    budgets = torch.tensor([2.0, 0.5, 1.0, 0.3], dtype=torch.float64)
    a = 0.01 * B.mean(dim=1)  # mean(G(w + η)) - 0.5 = a·(w + η)
    c = -(w @ a)
    exact = c.abs() / torch.sqrt((a * a * budgets**2).sum())
    scale = float(exact.max()) * 1.2
    space = LatentSpace(G, Ellipsoid.from_budgets(budgets * scale), V=V)
    rf = Attack(Misclassification(), space, FAB(steps=30))(Linear2(), w, y)
    assert bool(rf.success.all())
    found = rf.distance * scale  # distance in the metric with M = diag(budgets⁻²)
    torch.testing.assert_close(found, exact, rtol=0.05, atol=0)
    r = Attack(Misclassification(loss="margin"), space, PGD(steps=40, alpha=0.1))(Linear2(), w, y)
    assert bool((r.distance <= 1 + 1e-6).all()) and bool(r.success.all())
    tight = LatentSpace(G, Ellipsoid.from_budgets(budgets * float(exact.min()) * 0.9), V=V)
    r = Attack(Misclassification(loss="margin"), tight, PGD(steps=40, alpha=0.1))(Linear2(), w, y)
    assert not bool(r.success.any())


def test_adam_penalty_finds_small_perturbation(digits_model):
    model, x, y, _ = digits_model
    x, y = x[:16], y[:16]
    goal = Misclassification(loss="margin")
    r = Attack(goal, PixelSpace(eps=2.0, p=2), AdamPenalty(steps=100, lr=0.05, penalty=0.2))(model, x, y)
    big = Attack(goal, PixelSpace(eps=2.0, p=2), AdamPenalty(steps=100, lr=0.05, penalty=0.0))(model, x, y)
    assert r.success_rate > 0.9
    both = r.success & big.success
    assert float(r.distance[both].mean()) < float(big.distance[both].mean())


def test_adam_tv_smoothness_reduces_total_variation(digits_model):
    model, x, y, _ = digits_model
    from semadv.search import total_variation

    x, y = x[:8], y[:8]
    rough = Attack(Misclassification(), PixelSpace(eps=0.3), AdamPenalty(steps=30, lr=0.02))(model, x, y)
    smooth = Attack(Misclassification(), PixelSpace(eps=0.3), AdamPenalty(steps=30, lr=0.02, tv=0.05))(model, x, y)
    assert float(total_variation(smooth.x_adv - x).mean()) < float(total_variation(rough.x_adv - x).mean())


def test_restarts_are_a_batch_axis_and_seeded(digits_model):
    model, x, y, _ = digits_model
    x, y = x[:32], y[:32]
    space = TransformSpace(rotation=(-15.0, 15.0), scale=(0.9, 1.1))
    atk = Attack(Misclassification(), space, PGD(steps=5, alpha=0.1, restarts=4))
    a = atk(model, x, y, generator=torch.Generator().manual_seed(3))
    b = atk(model, x, y, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.z_adv, b.z_adv)
    one = Attack(Misclassification(), space, PGD(steps=5, alpha=0.1, restarts=1))(model, x, y)
    assert a.success.sum() >= one.success.sum()
    # first restart starts at z0, so 4 restarts never lose what 1 restart found
    assert bool((a.success | ~one.success).all())


def test_random_and_grid_search_in_transform_space(digits_model):
    model, x, y, _ = digits_model
    x, y = x[:32], y[:32]
    space = TransformSpace(rotation=(-30.0, 30.0), translate_x=(-0.15, 0.15))
    r = Attack(Misclassification(), space, RandomSearch(samples=30))(
        model, x, y, generator=torch.Generator().manual_seed(0)
    )
    g = Attack(Misclassification(), space, GridSearch(points=5))(model, x, y)
    assert r.success_rate > 0.3 and g.success_rate > 0.3
    assert int(g.queries.max()) <= 1 + 2 + 1 + 25 + 1  # clean, 2 checks, z0, 25 grid points, verification
    with pytest.raises(InputError, match="exceeds max_evaluations"):
        Attack(Misclassification(), PixelSpace(eps=0.1), GridSearch(points=3))(model, x[:2], y[:2])


def test_custom_loss_goal_with_pgd(digits_model):
    model, x, _, _ = digits_model
    # push logit of class 3 above 10
    goal = LossGoal(lambda out, t: 10.0 - out[:, 3], threshold=0.0)
    r = Attack(goal, PixelSpace(eps=0.3), PGD(steps=20, alpha=0.05))(model, x[:8], None)
    with torch.no_grad():
        assert bool((model(r.x_adv)[:, 3][r.success] >= 10.0).all())
    assert r.success_rate > 0
