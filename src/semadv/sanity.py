"""AutoAttack-style sanity checks (Croce & Hein 2020, "flags" of unreliable evaluations).

Each check returns warning strings that the attack records in :attr:`AttackResult.warnings`; the library
logs them through ``logging`` and never prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from semadv.types import Evaluation

log = logging.getLogger(__name__)


def check_determinism(
    victim: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    first: torch.Tensor,
    atol: float = 1e-5,
) -> list[str]:
    """Victim gives different outputs on the same input (dropout, stochastic defenses …)."""
    with torch.no_grad():
        second = victim(images)
    if first.shape != second.shape or not torch.allclose(first, second, atol=atol, rtol=1e-4):
        diff = float((first - second).abs().max()) if first.shape == second.shape else float("inf")
        return [
            f"victim is non-deterministic: two runs on the same input differ by up to {diff:.3g}; "
            "use EOT or fix its randomness (eval mode?)"
        ]
    return []


def check_probabilities(outputs: torch.Tensor) -> list[str]:
    """Outputs look like probabilities (rows in [0,1] summing to 1) rather than logits."""
    if outputs.dim() == 2 and outputs.shape[1] > 1:
        in_unit = bool(((outputs >= 0) & (outputs <= 1)).all())
        sums = outputs.sum(dim=1)
        if in_unit and torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            return [
                "victim outputs look like probabilities (rows in [0,1] summing to 1), not logits: "
                "cross-entropy and margin losses may have vanishing gradients"
            ]
    return []


def check_zero_gradient(ev: Evaluation) -> list[str]:
    """Gradient of the goal loss through decode∘victim is exactly zero for some samples (``ev`` is the
    evaluation at z0 with its gradient)."""
    if ev.grad is None:
        return []
    # a sample already satisfying the goal may legitimately sit on a flat (clamped) loss
    zero = (ev.grad.reshape(ev.grad.shape[0], -1).abs().amax(dim=1) == 0) & ~ev.reached
    if bool(zero.any()):
        return [
            f"zero gradient through decode∘victim for {int(zero.sum())}/{zero.numel()} sample(s): "
            "gradient masking or a non-differentiable step; try a black-box search"
        ]
    return []


def check_constraint(violation: torch.Tensor, atol: float = 1e-4) -> list[str]:
    """The search returned parameters outside the feasible set (re-projected by the attack)."""
    bad = violation > atol
    if bool(bad.any()):
        return [
            f"constraint violated after the search for {int(bad.sum())} sample(s) (max violation "
            f"{float(violation.max()):.3g}); the attack re-projected them"
        ]
    return []


def check_black_box_vs_gradient(gradient_success: torch.Tensor, black_box_success: torch.Tensor) -> list[str]:
    """A black-box search succeeded where a gradient search on the same problem failed."""
    beat = black_box_success & ~gradient_success
    if bool(beat.any()):
        return [
            f"a black-box search succeeded on {int(beat.sum())} sample(s) where the gradient search "
            "failed: gradients may be obfuscated, the evaluation is unreliable"
        ]
    return []
