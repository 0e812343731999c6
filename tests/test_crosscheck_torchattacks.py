"""Independent cross-checks against torchattacks on the same trained classifier, batch, ε and steps
(random start disabled). torchattacks is installed with --no-deps by the Makefile (dev only)."""

from __future__ import annotations

import pytest
import torch

from semadv import FAB, PGD, Attack, Misclassification, PixelSpace

torchattacks = pytest.importorskip("torchattacks", reason="dev dependency installed by `make test`")


def _adv_acc(model, x_adv, y) -> int:
    with torch.no_grad():
        return int((model(x_adv).argmax(1) == y).sum())


@pytest.mark.parametrize(("p", "eps", "alpha", "cls"), [("inf", 0.1, 0.02, "PGD"), (2, 1.0, 0.2, "PGDL2")])
@pytest.mark.parametrize("early_stop", [True, False])
def test_pgd_matches_torchattacks(digits_model, p, eps, alpha, cls, early_stop):
    model, x, y, _ = digits_model
    x, y = x[:200], y[:200]
    ours = Attack(Misclassification(), PixelSpace(eps=eps, p=p), PGD(steps=10, alpha=alpha, early_stop=early_stop))(
        model, x, y
    )
    theirs = getattr(torchattacks, cls)(model, eps=eps, alpha=alpha, steps=10, random_start=False)(x, y)
    ours_acc = int((~ours.success).sum())
    theirs_acc = _adv_acc(model, theirs, y)
    assert 10 < theirs_acc < 190  # the comparison is informative
    assert abs(ours_acc - theirs_acc) <= 1, (ours_acc, theirs_acc)


def test_fab_l2_minimum_norms_match_torchattacks(digits_model):
    model, x, y, _ = digits_model
    x, y = x[:200], y[:200]
    ours = Attack(Misclassification(), PixelSpace(eps=10.0, p=2), FAB(steps=10))(model, x, y)
    adv = torchattacks.FAB(model, norm="L2", eps=10.0, steps=10, n_restarts=1, n_classes=10)(x, y)
    with torch.no_grad():
        clean_ok = model(x).argmax(1) == y
        theirs_ok = model(adv).argmax(1) != y
    theirs_norm = (adv - x).flatten(1).norm(dim=1)
    both = ours.success & theirs_ok & clean_ok
    assert int(both.sum()) >= 150
    ratio = ours.distance[both] / theirs_norm[both]
    assert float(ratio.median()) <= 1.10, float(ratio.median())
