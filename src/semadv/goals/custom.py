"""A goal built from a user's loss function."""

from __future__ import annotations

from collections.abc import Callable

import torch

from semadv.errors import InputError
from semadv.registry import register


@register("goal", "loss")
class LossGoal:
    """Goal from ``loss_fn(outputs, target) -> (B,)`` (minimised); reached when loss ≤ ``threshold``
    or, if given, when ``reached_fn(outputs, target)`` is True.

    ``margins`` is ``threshold − loss`` (one column), so boundary searches such as FAB also work.
    """

    def __init__(
        self,
        loss_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        threshold: float = 0.0,
        reached_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor] | None = None,
    ) -> None:
        if not callable(loss_fn):
            raise InputError(f"loss_fn must be callable; got {type(loss_fn).__name__}")
        self.loss_fn = loss_fn
        self.threshold = float(threshold)
        self.reached_fn = reached_fn

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor | None:
        if target is not None and target.shape[0] != outputs.shape[0]:
            raise InputError(
                f"batch size mismatch: target has shape {tuple(target.shape)}, victim outputs {tuple(outputs.shape)}"
            )
        value = self.loss_fn(outputs, target)
        if not isinstance(value, torch.Tensor) or value.shape != (outputs.shape[0],):
            raise InputError(
                f"loss_fn must return a (B,) tensor with B={outputs.shape[0]}; got "
                f"{getattr(value, 'shape', type(value).__name__)}"
            )
        return target

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return self.loss_fn(outputs, target)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        if self.reached_fn is not None:
            return self.reached_fn(outputs, target).bool()
        return self.loss_fn(outputs, target) <= self.threshold

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return (self.threshold - self.loss_fn(outputs, target))[:, None]
