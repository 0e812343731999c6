"""World base: a named parameter layout with ranges, validation, sampling and rendering."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from semadv.errors import IncompatibleError, InputError, NonFiniteError


@dataclass(frozen=True)
class ParamDef:
    """One scene parameter: name, physical range [lo, hi] and what it means."""

    name: str
    lo: float
    hi: float
    doc: str = ""


@dataclass(frozen=True)
class Render:
    """What a world's renderer returns for a batch of scenes."""

    image: torch.Tensor  # (B, 3, H, W) in [0, 1]
    labels: torch.Tensor | None = None  # (B, H, W) int64 semantic classes
    instances: torch.Tensor | None = None  # (B, H, W) int64 instance slot, -1 for stuff
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class World(ABC):
    """A procedural world: a flat parameter vector per scene, rendered differentiably.

    Out-of-range parameters are **clamped** to their documented ranges by :meth:`validate` (the rule is
    the same everywhere, so a search may step outside and be pulled back); non-finite parameters are
    rejected with the parameter's name.
    """

    name: str = "world"
    H: int = 64
    W: int = 64
    params: tuple[ParamDef, ...] = ()
    #: kinds of task ground truth (:mod:`semadv.truth`) this world re-derives exactly for a changed scene
    truth_kinds: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._index = {p.name: i for i, p in enumerate(self.params)}
        self.lo = torch.tensor([p.lo for p in self.params])
        self.hi = torch.tensor([p.hi for p in self.params])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def index(self, name: str) -> int:
        if name not in self._index:
            raise InputError(f"unknown {self.name} parameter {name!r}; known: {', '.join(self._index)}")
        return self._index[name]

    def validate(self, params: torch.Tensor) -> torch.Tensor:
        """Check shape (B, P) and finiteness (naming the bad parameter); clamp to the ranges."""
        P = len(self.params)
        if not isinstance(params, torch.Tensor) or params.dim() != 2 or params.shape[1] != P:
            shape = tuple(params.shape) if isinstance(params, torch.Tensor) else type(params).__name__
            raise InputError(f"{self.name} parameters must have shape (B, {P}); got {shape}")
        bad = ~torch.isfinite(params)
        if bool(bad.any()):
            row, col = (int(v) for v in bad.nonzero()[0])
            raise NonFiniteError(
                f"{self.name} parameter {self.params[col].name!r} of scene {row} is {params[row, col].item()}"
            )
        lo, hi = self.lo.to(params), self.hi.to(params)
        return torch.maximum(torch.minimum(params, hi), lo)

    def get(self, params: torch.Tensor, name: str) -> torch.Tensor:
        return params[:, self.index(name)]

    def set(self, params: torch.Tensor, name: str, value: float | torch.Tensor) -> torch.Tensor:
        """A copy of ``params`` with ``name`` set to ``value`` (scalar or (B,))."""
        out = params.clone()
        out[:, self.index(name)] = value
        return out

    def move_truth(
        self, before: torch.Tensor, after: torch.Tensor, truth: torch.Tensor, kind: str, render: Render
    ) -> torch.Tensor:
        """``truth`` of ``kind`` for scenes ``before`` carried to scenes ``after`` (``render``: their render
        with labels). Worlds list what they support in :attr:`truth_kinds`."""
        raise IncompatibleError(f"the {self.name} world cannot re-derive {kind} ground truth")

    @abstractmethod
    def render(self, params: torch.Tensor, with_labels: bool = False) -> Render:
        """Render scenes ``params`` (B, P) → images (B, 3, H, W) in [0, 1] (+ ground truth)."""
