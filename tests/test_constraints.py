"""Property tests of every constraint: idempotent projection, feasibility, inside points unchanged,
KKT optimality of the ellipsoid projection against scipy, uniform sampling inside, steepest directions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from semadv.constraints import Box, Ellipsoid, LpBall, Subspace, project_ellipsoid
from semadv.errors import ConstraintError, InputError

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=64)


def vecs(n: int = 5, b: int = 4):
    return arrays(np.float64, (b, n), elements=finite).map(torch.from_numpy)


budgets = st.lists(st.floats(1e-3, 1e3), min_size=5, max_size=5).map(lambda v: torch.tensor(v, dtype=torch.float64))
log_budgets = st.lists(st.floats(-3, 3), min_size=5, max_size=5).map(
    lambda v: torch.tensor([10.0**e for e in v], dtype=torch.float64)
)


def spd(n: int, seed: int, cond: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    ev = torch.logspace(0, math.log10(cond), n, dtype=torch.float64)
    return Q @ torch.diag(ev) @ Q.T


def constraints():
    return st.one_of(
        st.floats(0.01, 10).map(lambda e: LpBall(e, math.inf)),
        st.floats(0.01, 10).map(lambda e: LpBall(e, 2)),
        log_budgets.map(Ellipsoid.from_budgets),
        st.tuples(st.integers(0, 1000), st.floats(1, 1e4), st.floats(0.1, 5)).map(
            lambda t: Ellipsoid(spd(5, t[0], t[1]), eps=t[2])
        ),
        st.floats(0.1, 10).map(lambda w: Box(-torch.full((5,), w), torch.full((5,), 2 * w))),
    )


@given(constraints(), vecs())
def test_projection_feasible_and_idempotent(c, v):
    center = torch.zeros_like(v)
    p = c.project(v, center)
    assert bool(c.contains(p, center, atol=1e-7).all())
    pp = c.project(p, center)
    torch.testing.assert_close(pp, p, atol=1e-9, rtol=1e-9)


@given(constraints(), vecs(), st.integers(0, 2**31 - 1))
def test_inside_points_unchanged_and_samples_inside(c, v, seed):
    center = torch.zeros_like(v)
    s = c.sample(center, torch.Generator().manual_seed(seed))
    assert bool(c.contains(s, center, atol=1e-9).all())
    torch.testing.assert_close(c.project(s, center), s, atol=1e-12, rtol=0)


@given(constraints(), vecs())
def test_projection_is_closest_point(c, v):
    """No sampled feasible point is closer to v than its projection (exact for convex sets)."""
    center = torch.zeros_like(v)
    p = c.project(v, center)
    g = torch.Generator().manual_seed(0)
    d_proj = (v - p).norm(dim=1)
    for _ in range(5):
        s = c.sample(center, g)
        if (isinstance(c, LpBall) and c.p == 2) or isinstance(c, Ellipsoid | Box):
            assert bool(((v - s).norm(dim=1) >= d_proj - 1e-9).all())


@given(log_budgets, arrays(np.float64, (5,), elements=st.floats(-1e3, 1e3)))
def test_ellipsoid_kkt_against_scipy(b, v_np):
    """Budget ratios up to 1e6 (1e-3…1e3): KKT residual ≤ 1e-6 and agreement with a brentq root."""
    E = Ellipsoid.from_budgets(b)
    v = torch.from_numpy(v_np)[None]
    x, lam = E.project_with_multiplier(v, torch.zeros_like(v))
    m = E.evals
    inside = float((m * v * v).sum()) <= 1.0
    if inside:
        assert float(lam) == 0.0
        torch.testing.assert_close(x, v)
        return
    stationarity = ((1 + lam * m) * x - v).abs().max() / max(1.0, float(v.abs().max()))
    assert float(stationarity) <= 1e-6
    assert abs(float((m * x * x).sum()) - 1.0) <= 1e-6
    assert float(lam) >= 0
    mv, vv = m.numpy(), v_np

    def h(t):
        return float(np.sum(mv * vv**2 / (1 + t * mv) ** 2) - 1.0)

    hi = 1.0
    while h(hi) > 0:
        hi *= 2
    lam_ref = scipy.optimize.brentq(h, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    x_ref = vv / (1 + lam_ref * mv)
    assert np.abs(x.numpy()[0] - x_ref).max() <= 1e-6 * max(1.0, np.abs(vv).max())


@given(st.integers(0, 10_000), st.floats(1, 1e4), arrays(np.float64, (4,), elements=st.floats(-20, 20)))
def test_full_spd_ellipsoid_against_scipy_minimize(seed, cond, v_np):
    M = spd(4, seed, cond)
    E = Ellipsoid(M, eps=1.0)
    v = torch.from_numpy(v_np)[None]
    x = E.project(v, torch.zeros_like(v))[0].numpy()
    Mn = M.numpy()
    res = scipy.optimize.minimize(
        lambda y: 0.5 * np.sum((y - v_np) ** 2),
        x0=np.zeros(4),
        jac=lambda y: y - v_np,
        constraints=[{"type": "ineq", "fun": lambda y: 1.0 - y @ Mn @ y, "jac": lambda y: -2 * Mn @ y}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    ours = 0.5 * np.sum((x - v_np) ** 2)
    assert x @ Mn @ x <= 1 + 1e-9
    assert ours <= res.fun + 1e-6 * max(1.0, res.fun)


@given(constraints(), vecs())
def test_steepest_is_unit_and_optimal(c, g):
    d = c.steepest(g)
    center = torch.zeros_like(g)
    if isinstance(c, Box):
        torch.testing.assert_close(d, g.sign() * (c.hi - c.lo))
        return
    n = c.norm(d)
    nonzero = g.abs().amax(dim=1) > 0
    torch.testing.assert_close(n[nonzero], torch.ones_like(n[nonzero]), atol=1e-9, rtol=1e-9)
    # any unit point of the set (radius-normalised sample) has a smaller inner product
    s = c.sample(center, torch.Generator().manual_seed(0)) / c.radius
    assert bool(((s * g).sum(1) <= (d * g).sum(1) + 1e-9).all())


@given(constraints(), vecs())
def test_whiten_norm_and_roundtrip(c, v):
    u = c.whiten(v)
    torch.testing.assert_close(c.unwhiten(u), v, atol=1e-8, rtol=1e-8)
    pn = u.abs().amax(dim=1) if c.p == math.inf else u.norm(dim=1)
    torch.testing.assert_close(pn, c.norm(v), atol=1e-8, rtol=1e-8)


@given(constraints(), arrays(np.float64, (4, 5), elements=st.floats(-1, 1)).map(torch.from_numpy))
def test_cube_view_is_feasible(c, v):
    center = torch.zeros_like(v)
    z = c.from_cube(v, center)
    assert bool(c.contains(z, center, atol=1e-9).all())


def test_uniform_sampling_l2_ball_radius_distribution():
    """Uniform in a 3-d ball: P(r ≤ ρ) = ρ³; check the median radius 2^(-1/3)."""
    c = LpBall(2.0, 2)
    s = c.sample(torch.zeros(20000, 3, dtype=torch.float64), torch.Generator().manual_seed(0))
    med = float(s.norm(dim=1).median()) / 2.0
    assert abs(med - 0.5 ** (1 / 3)) < 0.01


def test_device_and_dtype_follow_inputs():
    E = Ellipsoid.from_budgets([0.5, 0.2])
    v = torch.tensor([[3.0, 1.0]], dtype=torch.float32)
    p = E.project(v, torch.zeros_like(v))
    assert p.dtype == torch.float32
    assert LpBall(0.1).project(v.half(), torch.zeros_like(v.half())).dtype == torch.float16


def test_paper_budgets_projection_batched():
    E = Ellipsoid.from_budgets([0.5, 0.5, 0.2, 0.8, 0.5])
    v = torch.randn(10_000, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    x, lam = E.project_with_multiplier(v, torch.zeros_like(v))
    res = ((1 + lam[:, None] * E.evals) * x - v).abs().max()
    assert float(res) <= 1e-6
    assert float(E.norm(x).max()) <= 1 + 1e-12


@pytest.mark.parametrize("eps", [0, -1, float("nan"), float("inf")])
def test_bad_eps_raises_naming_value(eps):
    with pytest.raises(ConstraintError, match="eps"):
        LpBall(eps)
    with pytest.raises(ConstraintError, match="eps"):
        Ellipsoid([1.0, 2.0], eps=eps)


def test_bad_metric_raises():
    with pytest.raises(ConstraintError, match="not symmetric"):
        Ellipsoid(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ConstraintError, match="smallest eigenvalue -1"):
        Ellipsoid(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ConstraintError, match=r"> 0"):
        Ellipsoid([1.0, 0.0])
    with pytest.raises(ConstraintError, match="budgets"):
        Ellipsoid.from_budgets([0.5, -0.1])
    with pytest.raises(ConstraintError, match="lo < hi"):
        Box(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
    with pytest.raises(ConstraintError, match="p must be 2 or inf"):
        LpBall(1.0, p=1)
    with pytest.raises(InputError, match=r"shape \(B, 2\)"):
        Ellipsoid([1.0, 2.0]).project(torch.zeros(3, 4), torch.zeros(3, 4))


def test_subspace_lift_and_coords():
    V = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    S = Subspace(V)
    eta = torch.tensor([[2.0, -1.0]])
    torch.testing.assert_close(S.lift(eta), torch.tensor([[1.0, -1.0, 0.0]]))
    torch.testing.assert_close(S.coords(S.lift(eta)), eta, atol=1e-5, rtol=1e-5)
    with pytest.raises(InputError, match="linearly dependent"):
        Subspace(torch.tensor([[1.0, 0.0], [2.0, 0.0]]))


def test_project_ellipsoid_functional_matches_class():
    m = torch.tensor([4.0, 1.0, 25.0], dtype=torch.float64)
    v = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    x, lam = project_ellipsoid(v, m, 1.0)
    E = Ellipsoid(m)
    torch.testing.assert_close(E.project(v, torch.zeros_like(v)), x)
    assert float(lam) > 0


def test_unbounded_keeps_the_metric_and_drops_the_budget():
    from semadv import PGD, Attack, Misclassification, PixelSpace
    from semadv.constraints import Ellipsoid, Unbounded
    from semadv.errors import IncompatibleError
    from semadv.search import FAB

    e = Ellipsoid.from_budgets([0.5, 2.0])
    u = Unbounded(e)
    z0 = torch.zeros(3, 2)
    far = torch.tensor([[10.0, 0.0], [0.0, 10.0], [3.0, 4.0]])
    assert torch.equal(u.project(far, z0), far) and float(u.violation(far, z0).max()) == 0.0
    assert torch.allclose(u.norm(far), e.norm(far))
    assert torch.allclose(u.whiten(far), e.whiten(far))
    assert Unbounded(u).metric is e  # no nesting
    space = PixelSpace(eps=0.1)
    free = space.unbounded()
    assert space.bounded and not free.bounded and space.constraint is not free.constraint
    x = torch.rand(2, 1, 3, 3)
    z = free.project(x + 5.0, x)
    assert float(z.max()) <= 1.0  # absolute pixel bounds still hold
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(9, 2))
    with pytest.raises(IncompatibleError, match="needs a budget"):
        Attack(Misclassification(), free, PGD(steps=2))
    Attack(Misclassification(), free, FAB(steps=2))(model, x, torch.tensor([0, 1]))
