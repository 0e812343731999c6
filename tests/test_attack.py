"""Attack composition: compatibility checks, re-verification, sanity warnings, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from semadv import PGD, Attack, LossGoal, Misclassification, PixelSpace, RandomSearch, TransformSpace
from semadv.errors import IncompatibleError, InputError, NonFiniteError
from semadv.sanity import check_black_box_vs_gradient
from semadv.search.base import Best, Search
from semadv.spaces.pixel import PixelSpace as _Pixel


class Mean2(nn.Module):
    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, torch.full_like(m, 0.5)], dim=1)


X = torch.full((4, 1, 3, 3), 0.6)
Y = torch.zeros(4, dtype=torch.long)


class LyingSearch(Search):
    """Claims success but returns z0 — and an infeasible z for sample 0."""

    def run(self, problem, first, generator):
        z = problem.z0.clone()
        z[0] = z[0] + 0.5
        n = problem.batch
        return Best(z, torch.ones(n, dtype=torch.bool), torch.zeros(n)), torch.zeros(n, dtype=torch.int64)


def test_attack_reverifies_and_reprojects():
    r = Attack(Misclassification(), PixelSpace(eps=0.05), LyingSearch())(Mean2(), X, Y)
    assert not bool(r.success.any())  # the victim still says class 0
    assert any("constraint violated" in w for w in r.warnings)
    assert float((r.x_adv - X).abs().max()) <= 0.05 + 1e-6


class BlackBoxSpace(_Pixel):
    differentiable = False


def test_incompatible_parts_refused():
    with pytest.raises(IncompatibleError, match="not differentiable"):
        Attack(Misclassification(), BlackBoxSpace(eps=0.1), PGD())
    Attack(Misclassification(), BlackBoxSpace(eps=0.1), RandomSearch())  # fine

    class NoMargins:
        def loss(self, o, t):
            return o[:, 0]

        def reached(self, o, t):
            return o[:, 0] < 0

        def check_target(self, t, o):
            return t

    from semadv import FAB

    with pytest.raises(IncompatibleError, match="margins"):
        Attack(NoMargins(), PixelSpace(eps=0.1), FAB())
    with pytest.raises(IncompatibleError, match="Space"):
        Attack(Misclassification(), "pixel", PGD())  # type: ignore[arg-type]


def test_sanity_warnings_nondeterministic_and_probabilities():
    class Noisy(nn.Module):
        def forward(self, x):
            return Mean2()(x) + 0.01 * torch.randn(x.shape[0], 2)

    r = Attack(Misclassification(), PixelSpace(eps=0.01), PGD(steps=2))(Noisy(), X, Y)
    assert any("non-deterministic" in w for w in r.warnings)

    class Probs(nn.Module):
        def forward(self, x):
            return torch.softmax(Mean2()(x), dim=1)

    r = Attack(Misclassification(), PixelSpace(eps=0.01), PGD(steps=2))(Probs(), X, Y)
    assert any("probabilities" in w for w in r.warnings)


def test_sanity_zero_gradient():
    class Step(nn.Module):
        def forward(self, x):
            m = (x.mean(dim=(1, 2, 3)) > 0.5).float()  # piecewise constant: gradient is zero
            return torch.stack([m, 1 - m], dim=1) * 3

    r = Attack(Misclassification(), PixelSpace(eps=0.2), PGD(steps=2))(Step(), X, Y)
    assert any("zero gradient" in w for w in r.warnings)
    ok = Attack(Misclassification(), PixelSpace(eps=0.2), PGD(steps=2))(Mean2(), X, Y)
    assert ok.warnings == ()


def test_attack_cross_check_flags_obfuscated_gradients():
    class Masked(nn.Module):
        """Gradient is zero (detached input) but the decision is an honest threshold."""

        def forward(self, x):
            return Mean2()(x.detach())

    atk = Attack(Misclassification(), PixelSpace(eps=0.4), PGD(steps=3), cross_check=RandomSearch(samples=50))
    r = atk(Masked(), X, Y, generator=torch.Generator().manual_seed(0))
    assert not bool(r.success.any())
    assert any("black-box search succeeded" in w for w in r.warnings)
    honest = atk(Mean2(), X, Y, generator=torch.Generator().manual_seed(0))
    assert bool(honest.success.all()) and not any("black-box" in w for w in honest.warnings)
    with pytest.raises(IncompatibleError, match="cross_check"):
        Attack(Misclassification(), PixelSpace(eps=0.2), RandomSearch(), cross_check=RandomSearch())


def test_black_box_beats_gradient_flag():
    assert check_black_box_vs_gradient(torch.tensor([True, False]), torch.tensor([True, True]))
    assert not check_black_box_vs_gradient(torch.tensor([True, False]), torch.tensor([False, False]))


def test_bad_inputs_name_the_value():
    atk = Attack(Misclassification(), PixelSpace(eps=0.1), PGD(steps=1))
    bad = X.clone()
    bad[1, 0, 2, 2] = 1.5
    with pytest.raises(InputError, match=r"got values in \[0.6, 1.5\]"):
        atk(Mean2(), bad, Y)
    with pytest.raises(InputError, match="rank 2"):
        atk(Mean2(), torch.rand(4, 9), Y)
    with pytest.raises(InputError, match="batch size mismatch"):
        atk(Mean2(), X, torch.zeros(3, dtype=torch.long))

    class NaNVictim(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 2), float("nan"))

    with pytest.raises(NonFiniteError, match="victim outputs"):
        atk(NaNVictim(), X, Y)

    class WrongBatch(nn.Module):
        def forward(self, x):
            return torch.zeros(1, 2)

    with pytest.raises(InputError, match="batch size mismatch"):
        atk(WrongBatch(), X, Y)


def test_result_fields_and_queries():
    r = Attack(Misclassification(), PixelSpace(eps=0.2), PGD(steps=10, alpha=0.02))(Mean2(), X, Y)
    for f in ("success", "distance", "loss", "queries", "steps"):
        assert getattr(r, f).shape == (4,)
    assert r.x_adv.shape == X.shape and r.z_adv.shape == X.shape
    # clean (with gradient, reused by the check and PGD's first step) + determinism + 6 new search
    # evaluations (6 steps, early stop) + verification
    assert bool(r.success.all()) and r.steps.tolist() == [6] * 4
    assert r.queries.tolist() == [1 + 1 + 6 + 1] * 4
    quiet = Attack(Misclassification(), PixelSpace(eps=0.2), PGD(steps=10, alpha=0.02), checks=False)(Mean2(), X, Y)
    assert quiet.queries.tolist() == [1 + 6 + 1] * 4 and quiet.warnings == ()
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        r.success = None  # type: ignore[misc]


def test_transform_space_attack_end_to_end(digits_model):
    model, x, y, acc = digits_model
    assert acc > 0.93
    space = TransformSpace(rotation=(-20.0, 20.0), scale=(0.85, 1.15))
    r = Attack(Misclassification(), space, PGD(steps=10, alpha=0.1, restarts=2))(
        model, x[:64], y[:64], generator=torch.Generator().manual_seed(0)
    )
    assert 0.05 < r.success_rate <= 1.0
    lo = torch.tensor([-20.0, 0.85])  # PARAMS order: rotation, scale
    hi = torch.tensor([20.0, 1.15])
    assert bool(((r.z_adv >= lo - 1e-6) & (r.z_adv <= hi + 1e-6)).all())
    with torch.no_grad():
        again = model(space.decode(r.z_adv, x[:64])).argmax(1) != y[:64]
    assert torch.equal(again, r.success)


def test_loss_goal_without_target():
    goal = LossGoal(lambda out, t: out[:, 0] - 0.4)
    r = Attack(goal, PixelSpace(eps=0.3), PGD(steps=20, alpha=0.05))(Mean2(), X, None)
    assert bool(r.success.all())


def test_success_rate_counts_only_attacked_rows():
    """Issue 23: rows the victim already got wrong are not successes of the attack."""
    from semadv.types import AttackResult

    def res(success, clean):
        b = len(success)
        z = torch.zeros(b, 1)
        return AttackResult(
            torch.tensor(success),
            torch.zeros(b),
            torch.zeros(b),
            torch.ones(b, dtype=torch.int64),
            torch.ones(b, dtype=torch.int64),
            z,
            torch.zeros(b, 1, 1, 1),
            z,
            torch.tensor(clean),
            0.0,
        )

    r = res([True, True, False, True], [True, False, False, False])  # row 0 was wrong before the attack
    assert r.success_rate == pytest.approx(2 / 3)
    assert r.summary()["n_attacked"] == 3.0
    assert math.isnan(res([True], [True]).success_rate)
