"""Seed 004 (AdvSPADE) parts: Dice loss, the objective's terms, success at θ, the generator space."""

from __future__ import annotations

import pytest
import torch

from semadv.attack import Attack
from semadv.errors import InputError
from semadv.goals import SegmentationGoal, misclassified_ratio
from semadv.search import RandomSearch
from semadv.spaces import GeneratorSpace
from semadv.zoo.streets import dice_loss, generator_terms, spade_objective


def test_dice_loss_hand_computed() -> None:
    # 2 classes on a 1×2 image; logits chosen so that softmax gives p = [[0.5, 0.5], [0.5, 0.5]] everywhere
    logits = torch.zeros(1, 2, 1, 2)
    labels = torch.tensor([[[0, 1]]])
    # class 0: inter = 0.5, Σp = 1, Σy = 1 → (2·0.5 + 1)/(1 + 1 + 1) = 2/3; class 1 the same
    assert dice_loss(logits, labels).item() == pytest.approx(1 - 2 / 3, abs=1e-6)
    # a confident, correct prediction → Dice ≈ 1, loss ≈ 0
    sure = torch.tensor([[[[20.0, -20.0]], [[-20.0, 20.0]]]])
    assert dice_loss(sure, labels).item() == pytest.approx(0.0, abs=1e-6)


def test_success_rate_at_theta_on_a_constructed_example() -> None:
    labels = torch.zeros(2, 4, 5, dtype=torch.long)
    logits = torch.zeros(2, 3, 4, 5)
    logits[:, 0] = 1.0  # everything predicted class 0 (correct)
    logits[0, 1, :, :] = 2.0  # image 0: all 20 pixels wrong
    logits[1, 1, 0, :] = 2.0  # image 1: 5 of 20 pixels wrong
    r = misclassified_ratio(logits, labels)
    assert r.tolist() == [1.0, 0.25]
    assert SegmentationGoal(0.95).reached(logits, labels).tolist() == [True, False]
    assert SegmentationGoal(0.2).reached(logits, labels).tolist() == [True, True]
    with pytest.raises(InputError, match="theta"):
        SegmentationGoal(1.0)


def test_objective_terms_are_each_active() -> None:
    """Zeroing a λ removes exactly that term's gradient; every term has a gradient of its own."""
    from semadv.zoo import load
    from semadv.zoo.nets_spade import SpadeGenerator, SpadeModel
    from semadv.zoo.streets import _perceptual_net

    torch.manual_seed(0)
    model = SpadeModel()
    seg = load("streets-drn")
    G, D, perc = model.generator, model.discriminator, _perceptual_net()
    from semadv.worlds.datasets import generate

    d = generate("streets", "test", n=4)
    real, lab = d["image"][:2], d["labels"][:2]
    layout = SpadeGenerator.one_hot(lab)
    lam = {"fm": 10.0, "perceptual": 10.0, "kl": 0.05, "l1": 10.0}
    params = [p for p in G.parameters() if p.requires_grad]

    def grads(lam_: dict[str, float], lam_atk: float) -> torch.Tensor:
        z, mu, logvar = G.sample_style(real, 2, torch.Generator().manual_seed(1))
        terms = generator_terms(D, perc, G(layout, z), real, layout, lab, mu, logvar, seg)
        g = torch.autograd.grad(spade_objective(terms, lam_, lam_atk), params, allow_unused=True)
        return torch.cat(
            [(x if x is not None else torch.zeros_like(p)).flatten() for x, p in zip(g, params, strict=True)]
        )

    full = grads(lam, 10.0)
    for key in lam:
        off = grads({**lam, key: 0.0}, 10.0)
        assert (full - off).abs().max() > 0, key  # the term contributed a gradient
    assert (full - grads(lam, 0.0)).abs().max() > 0  # the attack term too


def test_generator_space_one_step_attack() -> None:
    """A toy 'generator' whose style code sets the image brightness; a toy segmenter thresholding it."""

    def gen(labels: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z[:, :1, None, None]).expand(-1, 3, *labels.shape[1:]).contiguous()

    def seg(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0] - 0.5, 0.5 - x[:, 0]], 1)  # class 0 iff brightness > 0.5

    space = GeneratorSpace(gen, zdim=2, radius=3.0)
    labels = torch.zeros(4, 3, 5, dtype=torch.long)
    res = Attack(SegmentationGoal(0.9), space, RandomSearch(samples=16), checks=False)(
        seg, labels, labels, generator=torch.Generator().manual_seed(0)
    )
    assert bool(res.success.all())  # some style with z₀ < 0 mislabels every pixel
    assert bool((res.z_adv[:, 0] < 0).all())
    with pytest.raises(InputError, match="label maps"):
        space.check_source(torch.rand(2, 3, 5))
