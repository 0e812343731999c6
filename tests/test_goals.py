from __future__ import annotations

import pytest
import torch

from semadv.errors import InputError
from semadv.goals import LossGoal, Misclassification

LOGITS = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0]])
Y = torch.tensor([0, 1])


def test_untargeted_ce_and_margin():
    g = Misclassification()
    ce = torch.nn.functional.cross_entropy(LOGITS, Y, reduction="none")
    torch.testing.assert_close(g.loss(LOGITS, Y), -ce)
    assert g.reached(LOGITS, Y).tolist() == [False, True]
    m = Misclassification(loss="margin", kappa=1.0)
    torch.testing.assert_close(m.loss(LOGITS, Y), torch.tensor([2.0, -1.0]))


def test_targeted_ce_and_margin():
    t = torch.tensor([1, 2])
    g = Misclassification(targeted=True)
    torch.testing.assert_close(g.loss(LOGITS, t), torch.nn.functional.cross_entropy(LOGITS, t, reduction="none"))
    assert g.reached(LOGITS, t).tolist() == [False, True]
    m = Misclassification(targeted=True, loss="margin")
    torch.testing.assert_close(m.loss(LOGITS, t), torch.tensor([2.0, 0.0]))


def test_margins_sign_matches_reached():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 5, generator=gen)
    y = torch.randint(0, 5, (64,), generator=gen)
    for goal in (Misclassification(), Misclassification(targeted=True)):
        reached = goal.reached(logits, y)
        pos = goal.margins(logits, y).amax(dim=1) > 0
        assert torch.equal(reached, pos)


def test_bad_targets():
    g = Misclassification()
    with pytest.raises(InputError, match="needs labels"):
        g.check_target(None, LOGITS)
    with pytest.raises(InputError, match="batch size mismatch"):
        g.check_target(torch.tensor([0, 1, 2]), LOGITS)
    with pytest.raises(InputError, match="target class 7"):
        g.check_target(torch.tensor([0, 7]), LOGITS)
    with pytest.raises(InputError, match="integer"):
        g.check_target(torch.tensor([0.0, 1.0]), LOGITS)
    with pytest.raises(InputError, match="'hinge'"):
        Misclassification(loss="hinge")


def test_loss_goal_threshold_and_margins():
    goal = LossGoal(lambda out, t: out[:, 0], threshold=0.5)
    out = torch.tensor([[0.1], [0.9]])
    assert goal.reached(out, None).tolist() == [True, False]
    torch.testing.assert_close(goal.margins(out, None), torch.tensor([[0.4], [-0.4]]))
    with pytest.raises(InputError, match=r"\(B,\) tensor"):
        LossGoal(lambda out, t: out).check_target(None, torch.zeros(2, 3))
