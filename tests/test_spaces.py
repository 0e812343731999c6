"""Spaces: shapes, feasibility, unit-cube views, bad input, and gradcheck of every transform parameter."""

from __future__ import annotations

import math

import pytest
import torch

from semadv.constraints import Ellipsoid, LpBall
from semadv.errors import ConstraintError, IncompatibleError, InputError
from semadv.spaces import PARAMS, LatentSpace, PixelSpace, TransformSpace, apply_transforms


def smooth_rgb(B: int = 2, H: int = 8, W: int = 8, dtype=torch.float64) -> torch.Tensor:
    """A colourful image with no saturated or grey pixels (so hue/saturation/gamma are smooth)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H, dtype=dtype), torch.linspace(0, 1, W, dtype=dtype), indexing="ij")
    r = 0.25 + 0.5 * xx
    g = 0.3 + 0.4 * yy
    b = 0.2 + 0.3 * (1 - xx) * yy + 0.1
    img = torch.stack([r, g, b])[None].repeat(B, 1, 1, 1)
    return img * torch.linspace(0.9, 1.0, B, dtype=dtype).reshape(B, 1, 1, 1)


# interior test points for every parameter (away from kinks such as clamping or σ≈0)
GRAD_POINTS = {
    "brightness": 0.05,
    "contrast": 1.1,
    "saturation": 1.2,
    "hue": 0.3,
    "gamma": 1.3,
    "rotation": 12.0,
    "scale": 1.1,
    "translate_x": 0.07,
    "translate_y": -0.05,
    "blur": 0.8,
    "fog": 0.7,
}


def test_grad_points_cover_every_parameter():
    assert set(GRAD_POINTS) == {p.name for p in PARAMS}


@pytest.mark.parametrize("name", [p.name for p in PARAMS])
def test_gradcheck_every_transform_parameter(name):
    spec = next(p for p in PARAMS if p.name == name)
    space = TransformSpace(**{name: (spec.lo, spec.hi)})
    x = smooth_rgb()
    z = torch.full((2, 1), GRAD_POINTS[name], dtype=torch.float64) * torch.tensor([[1.0], [0.9]], dtype=torch.float64)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda zz: space.decode(zz, x), (z,), eps=1e-6, atol=1e-5)
    # and the gradient is not identically zero (the parameter really acts on the image)
    (g,) = torch.autograd.grad(space.decode(z, x).sum(), z)
    assert float(g.abs().max()) > 0


def test_transform_identity_and_fixed_parameters():
    x = smooth_rgb(dtype=torch.float32)
    space = TransformSpace(rotation=(-10.0, 10.0), brightness=(-0.2, 0.2), blur=0.0)
    z0 = space.encode(x)
    assert z0.shape == (2, 2) and space.names == ("brightness", "rotation")
    torch.testing.assert_close(space.decode(z0, x), x, atol=1e-5, rtol=0)
    fixed = TransformSpace(rotation=(-10.0, 10.0), brightness=0.1)
    out = fixed.decode(fixed.encode(x), x)
    torch.testing.assert_close(out, (x + 0.1).clamp(0, 1), atol=1e-5, rtol=0)


def test_transform_rotation_90_moves_pixels():
    x = torch.zeros(1, 1, 9, 9)
    x[..., 4, 8] = 1.0  # a dot right of the centre
    out = apply_transforms(x, {"rotation": torch.tensor([90.0])})
    r, c = divmod(int(out[0, 0].argmax()), 9)
    assert (r, c) in {(0, 4), (8, 4)}  # moved to the top or bottom middle (kornia: counter-clockwise)


def test_transform_fog_brightens_top_more_than_bottom():
    x = torch.zeros(1, 3, 16, 16)
    out = apply_transforms(x, {"fog": torch.tensor([2.0])})
    assert float(out[0, :, 0].mean()) > float(out[0, :, -1].mean()) + 0.5
    assert float(out.max()) <= 0.85 + 1e-6


def test_transform_projection_and_cube():
    space = TransformSpace(rotation=(-10.0, 10.0), contrast=(0.5, 1.5))
    x = smooth_rgb(dtype=torch.float32)
    z0 = space.encode(x)
    z = torch.tensor([[5.0, 100.0], [-1.0, -100.0]])
    p = space.project(z, z0)
    torch.testing.assert_close(p, torch.tensor([[1.5, 10.0], [0.5, -10.0]]))
    u = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    torch.testing.assert_close(space.from_cube(u, z0), torch.tensor([[0.5, 10.0], [1.0, 0.0]]))
    assert space.distance(torch.tensor([[1.5, 0.0], [1.0, 0.0]]), z0).tolist() == [0.5, 0.0]


def test_transform_bad_config():
    with pytest.raises(InputError, match="'wobble'"):
        TransformSpace(wobble=(0, 1))
    with pytest.raises(ConstraintError, match="rotation"):
        TransformSpace(rotation=(-400, 10))
    with pytest.raises(ConstraintError, match="contrast"):
        TransformSpace(contrast=(1.5, 1.0))
    with pytest.raises(InputError, match="no searched parameter"):
        TransformSpace(rotation=10.0)
    space = TransformSpace(hue=(-0.5, 0.5))
    gray = torch.rand(2, 1, 8, 8)
    with pytest.raises(IncompatibleError, match="RGB"):
        space.decode(space.encode(gray), gray)


def test_pixel_space_clamps_and_projects():
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    s = PixelSpace(eps=0.1)
    z = x + 0.5
    p = s.project(z, x)
    assert float((p - x).abs().max()) <= 0.1 + 1e-6 and float(p.max()) <= 1.0
    s2 = PixelSpace(eps=0.5, p=2)
    d = s2.distance(s2.project(x + 1.0, x), x)
    assert bool((d <= 0.5 + 1e-6).all())
    r = s.sample(x, torch.Generator().manual_seed(0))
    assert bool(s.violation(r, x).eq(0).all())
    u = torch.rand(3, 16, generator=torch.Generator().manual_seed(1))
    assert bool(s.violation(s.from_cube(u, x), x).eq(0).all())


def test_pixel_space_with_ellipsoid_constraint():
    x = torch.full((2, 1, 2, 2), 0.5)
    s = PixelSpace(constraint=Ellipsoid(torch.tensor([1.0, 4.0, 9.0, 16.0]), eps=0.1))
    p = s.project(x + 1, x)
    assert bool((s.distance(p, x) <= 0.1 + 1e-6).all())
    assert s.p == 2


def test_pixel_space_rejects_bad_images():
    s = PixelSpace(eps=0.1)
    with pytest.raises(InputError, match=r"\[0, 1\]; got values in \[-0.5"):
        s.check_source(torch.full((1, 1, 2, 2), -0.5))
    with pytest.raises(InputError, match="rank 3"):
        s.check_source(torch.rand(1, 2, 2))
    with pytest.raises(ConstraintError, match="eps"):
        PixelSpace(eps=0.0)


def test_latent_space_directions_and_budget():
    d = 6
    W = torch.randn(d, 3 * 4 * 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def G(w):
        return torch.sigmoid(w @ W).reshape(-1, 3, 4, 4)

    V = torch.eye(d, dtype=torch.float64)[:2]
    space = LatentSpace(G, Ellipsoid.from_budgets([0.5, 0.1]), V=V)
    w = torch.randn(4, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    z0 = space.encode(w)
    assert z0.shape == (4, 2) and bool((z0 == 0).all())
    torch.testing.assert_close(space.decode(z0, w), G(w))
    eta = torch.tensor([[1.0, 0.0]] * 4, dtype=torch.float64)
    p = space.project(eta, z0)
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.0]] * 4, dtype=torch.float64))
    torch.testing.assert_close(space.decode(p, w), G(w + p @ V))
    with pytest.raises(InputError, match="latent dim 5"):
        space.check_source(torch.zeros(2, 5, dtype=torch.float64))
    z = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda zz: space.decode(zz, w), (z,))


def test_space_p_and_radius():
    assert PixelSpace(eps=0.3).p == math.inf and PixelSpace(eps=0.3).radius == 0.3
    assert TransformSpace(rotation=(-1.0, 1.0)).radius == 1.0
    assert LpBall(2.0, 2).radius == 2.0
