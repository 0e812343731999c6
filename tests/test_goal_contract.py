"""Contract test over the goal registry: every registered goal through one template.

For each goal with a fixture (outputs, a valid target, a bad target): ``check_target`` accepts the valid
target and raises one InputError for the bad one; ``loss`` is a finite (B,) tensor that is differentiable in
the outputs; ``reached`` is a (B,) bool; ``margins`` (when present) has B rows and its sign agrees with
``reached`` where the goal has a single condition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from semadv import build, list_registered
from semadv.errors import InputError

G = torch.Generator().manual_seed(0)
B = 4


def _misclassify() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        build("goal", "misclassify"),
        torch.randn(B, 5, generator=G),
        torch.tensor([0, 1, 2, 3]),
        torch.tensor([0, 1]),
    )


def _loss() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    goal = build("goal", "loss", loss_fn=lambda o, t: (o - t).pow(2).sum(1), threshold=0.5)
    return goal, torch.randn(B, 3, generator=G), torch.zeros(B, 3), torch.zeros(B + 1, 3)


def _verification() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        build("goal", "verification", threshold=0.6),
        torch.randn(B, 8, generator=G),
        torch.randn(B, 8, generator=G),
        torch.randn(B, 7, generator=G),
    )


def _landmark_target() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    out = 20 + 20 * torch.rand(B, 6, 2, generator=G)
    return build("goal", "landmark_target", tol=0.05), out, out + torch.randn(B, 6, 2, generator=G), out[:, :5]


def _landmark_error() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    out = 20 + 20 * torch.rand(B, 6, 2, generator=G)
    return build("goal", "landmark_error", tol=0.05), out, out + torch.randn(B, 6, 2, generator=G), out[:, :5]


def _same_object() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    from semadv.goals import Misclassification, SameObject

    boxes = torch.tensor([[4.0, 4.0, 12.0, 12.0, 0.0]]).repeat(B, 1)
    det = torch.tensor([[4.0, 5.0, 12.0, 13.0], [20.0, 20.0, 28.0, 28.0]]).repeat(B // 2, 1)
    out = torch.cat([det, torch.randn(B, 3, generator=G)], 1)
    target = SameObject.pack(boxes, torch.randint(0, 3, (B,), generator=G))
    return SameObject(Misclassification()), out, target, target[:, :5]


def _out_of_region() -> tuple[Any, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    out = 64 * torch.rand(B, 6, 2, generator=G)
    return build("goal", "out_of_region", box=(16, 16, 48, 48)), out, None, torch.full((B, 6), float("nan"))


def _segmentation() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        build("goal", "segmentation", theta=0.5),
        torch.randn(B, 3, 8, 8, generator=G),
        torch.randint(0, 3, (B, 8, 8), generator=G),
        torch.randint(0, 3, (B, 7, 8), generator=G),
    )


def _region() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    lab = torch.zeros(B, 8, 8, dtype=torch.long)
    lab[:, 2:5, 2:5] = 1
    return build("goal", "region", cls=1, to=2), torch.randn(B, 3, 8, 8, generator=G), lab, lab[:, :4]


def _type1() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    out = torch.randn(B, 3 + 4, generator=G)  # victim 3 classes | attacker 4 classes
    t = torch.stack([torch.tensor([0, 1, 2, 0]), torch.tensor([1, -1, 3, 2])], 1)
    return build("goal", "type1", victim_dim=3), out, t, t[:, :1]


def _detection() -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    from semadv.recipes.base import zoo_model
    from semadv.worlds.datasets import generate

    det = zoo_model("streets-squeezedet")
    d = generate("streets", "test", seed=0, n=B)
    with torch.no_grad():
        out = det(d["image"])
    box = torch.tensor([[[4.0, 20.0, 20.0, 40.0, 1.0]]]).repeat(B, 1, 1)
    return build("goal", "detection", detector=det), out, box, box[:, :, :4]


FACTORIES: dict[str, Callable[[], tuple[Any, torch.Tensor, torch.Tensor | None, torch.Tensor]]] = {
    "misclassify": _misclassify,
    "loss": _loss,
    "verification": _verification,
    "landmark_target": _landmark_target,
    "landmark_error": _landmark_error,
    "same_object": _same_object,
    "out_of_region": _out_of_region,
    "segmentation": _segmentation,
    "region": _region,
    "type1": _type1,
    "detection": _detection,
}


def test_every_registered_goal_has_a_contract_fixture():
    assert sorted(FACTORIES) == list_registered("goal")


@pytest.mark.parametrize("name", list_registered("goal"))
def test_goal_contract(name):
    goal, out, target, bad = FACTORIES[name]()
    target = goal.check_target(target, out)
    out = out.clone().requires_grad_(True)
    loss = goal.loss(out, target)
    assert loss.shape == (B,) and bool(torch.isfinite(loss).all())
    (g,) = torch.autograd.grad(loss.sum(), out, allow_unused=True)
    assert g is not None and bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0
    reached = goal.reached(out.detach(), target)
    assert reached.shape == (B,) and reached.dtype == torch.bool
    if callable(getattr(goal, "margins", None)) and name in ("misclassify", "loss", "verification"):
        m = goal.margins(out.detach(), target)
        assert m.shape[0] == B
        assert torch.equal(m.amax(1) > 0, reached) or torch.equal(m.amin(1) > 0, reached)
    with pytest.raises(InputError):
        goal.check_target(bad, out.detach())
