"""Contract test over the space registry (timm-style): every registered space, one template.

For each space: ``encode → decode`` gives finite images in [0, 1] of the documented shape; ``project`` lands
in the feasible set and is idempotent; ``distance(z0, z0) = 0``; random samples are feasible; gradients reach
``z`` when the space says it is differentiable; a malformed source raises one InputError.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from semadv import build, list_registered
from semadv.errors import InputError
from semadv.spaces.base import Space
from semadv.worlds.faces import FacesWorld

G = torch.Generator().manual_seed(0)


def _tiny_decoder(f: torch.Tensor, _extra: torch.Tensor | None = None) -> torch.Tensor:
    return torch.sigmoid(f.mean(1, keepdim=True).expand(-1, 3, -1, -1))


def _tiny_editor(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (x * (0.5 + 0.5 * c.mean(1))[:, None, None, None]).clamp(0, 1)


def _tiny_layout_generator(labels: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    base = labels.float()[:, None] / 4
    return torch.sigmoid(base.expand(-1, 3, -1, -1) + z[:, :3, None, None])


def _pixel() -> tuple[Space, torch.Tensor]:
    return build("space", "pixel", eps=0.05), torch.rand(3, 3, 8, 8, generator=G)


def _transform() -> tuple[Space, torch.Tensor]:
    return build("space", "transform", rotation=(-10.0, 10.0), brightness=(-0.2, 0.2)), torch.rand(
        3, 3, 8, 8, generator=G
    )


def _latent() -> tuple[Space, torch.Tensor]:
    from semadv.constraints import LpBall

    W = torch.randn(3 * 8 * 8, 6, generator=G)
    return build(
        "space", "latent", generator=lambda w: torch.sigmoid(w @ W.T).reshape(-1, 3, 8, 8), constraint=LpBall(0.5, 2.0)
    ), torch.randn(3, 6, generator=G)


def _generator() -> tuple[Space, torch.Tensor]:
    return build("space", "generator", generator=_tiny_layout_generator, zdim=4), torch.randint(
        0, 4, (3, 8, 8), generator=G
    )


def _render() -> tuple[Space, torch.Tensor]:
    w = FacesWorld()
    params, _ = w.sample(3, 3, seed=1)
    return build("space", "render", world=w, budgets={"yaw": 0.3, "smile": 0.2}), params


def _feature() -> tuple[Space, torch.Tensor]:
    space = build("space", "feature_interpolation", decoder=_tiny_decoder, feature_shape=(4, 8, 8))
    f1, f2 = torch.randn(3, 4, 8, 8, generator=G), torch.randn(3, 4, 8, 8, generator=G)
    return space, space.pack(f1, f2)


def _attribute() -> tuple[Space, torch.Tensor]:
    space = build("space", "attribute_interpolation", generator=_tiny_editor, image_shape=(3, 8, 8), n_attributes=5)
    x = torch.rand(3, 3, 8, 8, generator=G)
    return space, space.pack(x, torch.rand(3, 5, generator=G), torch.rand(3, 5, generator=G))


FACTORIES: dict[str, Callable[[], tuple[Space, torch.Tensor]]] = {
    "pixel": _pixel,
    "transform": _transform,
    "latent": _latent,
    "generator": _generator,
    "render": _render,
    "feature_interpolation": _feature,
    "attribute_interpolation": _attribute,
}


def test_every_registered_space_has_a_contract_fixture():
    assert sorted(FACTORIES) == list_registered("space")


@pytest.mark.parametrize("name", list_registered("space"))
def test_space_contract(name):
    space, x = FACTORIES[name]()
    assert isinstance(space, Space)
    x = space.check_source(x)
    z0 = space.encode(x)
    img = space.decode(z0, x)
    assert img.dim() == 4 and img.shape[0] == 3 and bool(torch.isfinite(img).all())
    assert float(img.min()) >= 0 and float(img.max()) <= 1
    assert torch.allclose(space.distance(z0, z0), torch.zeros(3), atol=1e-6)
    # project: feasible and idempotent, from far outside
    far = z0 + 10 * torch.randn(z0.shape, generator=G)
    p = space.project(far, z0)
    assert float(space.violation(p, z0).max()) <= 1e-4
    assert torch.allclose(space.project(p, z0), p, atol=1e-5)
    s = space.sample(z0, torch.Generator().manual_seed(1))
    assert s.shape == z0.shape and float(space.violation(s, z0).max()) <= 1e-4
    assert torch.equal(s, space.sample(z0, torch.Generator().manual_seed(1)))  # seeded
    if space.differentiable:
        z = s.clone().requires_grad_(True)
        space.decode(z, x).sum().backward()
        assert z.grad is not None and bool(torch.isfinite(z.grad).all()) and float(z.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", list_registered("space"))
def test_space_rejects_a_malformed_source(name):
    space, _ = FACTORIES[name]()
    with pytest.raises(InputError):
        space.check_source(torch.rand(3))  # rank 1 is no valid source of any space
