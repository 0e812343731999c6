"""The Space concept: a threat model mapping parameters ``z`` to images (DESIGN §2, MadryLab-style).

A space owns ``encode`` (source → z0), ``decode`` (z, source → image), its feasible set (``project``,
``violation``, ``sample``), its metric (``distance``, ``steepest``, ``whiten``/``unwhiten``, ``p``) and a
unit-cube view (``from_cube``) that black-box searches use (3DB-style). Searches only ever talk to this
interface, so every search runs in every space (seed 003 §3: any pixel attack becomes a semantic one).

The metric and feasible set live in a :class:`~semadv.constraints.Constraint` applied to the flattened
parameters ``(B, D)``; subclasses usually only implement ``encode``/``decode``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from semadv.checks import check_images
from semadv.constraints import Constraint
from semadv.errors import IncompatibleError, InputError


class Space(ABC):
    """Base class of every space. Configuration in ``__init__``, data in calls; immutable."""

    #: can gradients flow from the image back to ``z``?
    differentiable: bool = True
    #: what the source ``x`` is: ``"image"`` (checked to be (B,C,H,W) in [0,1]) or ``"latent"``
    source: str = "image"
    #: how the space carries task ground truth (:mod:`semadv.truth`): ``"fixed"`` — it never moves scene
    #: content, so truth passes through unchanged (pixels, colours, layout-conditioned styles); ``"moved"`` —
    #: :meth:`decode_with_truth` moves it; ``None`` — unknown (a learned generator or editor may move
    #: content): goals whose target is ground truth are refused. Per kind: :meth:`truth_mode`.
    truth: str | None = "fixed"

    def __init__(self, constraint: Constraint) -> None:
        self.constraint = constraint

    # --- to be provided by subclasses -------------------------------------------------------------
    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Parameters ``z0`` that reproduce the source (or its closest feasible version)."""

    @abstractmethod
    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Image ``(B, C, H, W)`` in ``[0, 1]`` for parameters ``z`` applied to source ``x``."""

    def truth_mode(self, kind: str) -> str | None:
        """``"fixed"``, ``"moved"`` or ``None`` (cannot carry it) for ground truth of ``kind``."""
        return self.truth

    def decode_with_truth(
        self, z: torch.Tensor, x: torch.Tensor, truth: torch.Tensor, kind: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The image for ``z`` and the task ground truth ``truth`` of ``kind`` carried along with it (moved
        exactly as the scene content moved; differentiable in ``z`` where the space is). Spaces that move
        content override this; here truth passes through when the space keeps it fixed."""
        mode = self.truth_mode(kind)
        if mode == "fixed":
            return self.decode(z, x), truth
        raise IncompatibleError(
            f"{self!r} cannot carry {kind} ground truth (truth mode {mode!r}); a goal scoring {kind} would "
            "compare the new image with the old scene"
        )

    def extra_project(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        """Additional feasibility after the constraint's projection (e.g. pixel range)."""
        return z

    def bounds(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Absolute per-coordinate bounds on z (shape of z0), or None; used by boundary searches."""
        return None

    # --- generic behaviour ------------------------------------------------------------------------
    @property
    def bounded(self) -> bool:
        """Does the space have a budget (False after :meth:`unbounded`)?"""
        from semadv.constraints import Unbounded

        return not isinstance(self.constraint, Unbounded)

    def _declare_truth(self, truth: str | None) -> None:
        """Constructor helper of spaces whose geometry semadv cannot know (generators, editors)."""
        if truth not in (None, "fixed"):
            raise InputError(f"truth must be None (unknown) or 'fixed' (the space keeps ground truth); got {truth!r}")
        self.truth = truth

    def unbounded(self) -> Space:
        """The same space and metric without a budget (:class:`~semadv.constraints.Unbounded`): for searches
        that minimise the distance themselves (FAB, Adam-penalty, Type I). Absolute bounds (pixel range,
        world parameter ranges) still apply through :meth:`extra_project` / :meth:`bounds`."""
        import copy

        from semadv.constraints import Unbounded

        out = copy.copy(self)
        out.constraint = Unbounded(self.constraint)
        return out

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        """Validate the source; image spaces demand (B, C, H, W) in [0, 1]."""
        if self.source == "image":
            return check_images(x, "x")
        return x

    def _flat(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(z.shape[0], -1)

    def project(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        """Map ``z`` to the nearest feasible parameters around ``z0``."""
        p = self.constraint.project(self._flat(z), self._flat(z0)).reshape(z.shape)
        return self.extra_project(p, z0)

    def violation(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        """(B,) distance outside the feasible set (0 when feasible), in the constraint's units."""
        v = self.constraint.violation(self._flat(z), self._flat(z0))
        b = self.bounds(z0)
        if b is not None:
            lo, hi = b
            over = torch.clamp(z - hi, min=0) + torch.clamp(lo - z, min=0)
            v = torch.maximum(v, self._flat(over).amax(dim=1))
        return v

    def distance(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        """(B,) size of the perturbation in the space's metric."""
        return self.constraint.norm(self._flat(z - z0))

    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        """Unit steepest-ascent direction of ``grad`` in the space's metric (shape of z)."""
        return self.constraint.steepest(self._flat(grad)).reshape(grad.shape)

    @property
    def radius(self) -> float:
        """The budget in the space's metric (the constraint's radius; 1 for unit boxes)."""
        return self.constraint.radius

    @property
    def p(self) -> float:
        """Exponent of the plain norm in whitened coordinates (2 or inf)."""
        return self.constraint.p

    @property
    def elementwise_metric(self) -> bool:
        return self.constraint.elementwise

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        """Coordinates ``u`` with ``distance == ‖u‖_p`` (flat ``(B, D)``)."""
        return self.constraint.whiten(self._flat(delta))

    def unwhiten(self, u: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`whiten`, reshaped like ``like``."""
        return self.constraint.unwhiten(u).reshape(like.shape)

    def sample(self, z0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform random feasible parameters (for random restarts)."""
        s = self.constraint.sample(self._flat(z0), generator).reshape(z0.shape)
        return self.extra_project(s, z0)

    def cube_dim(self, z0: torch.Tensor) -> int:
        """Dimension D of the unit-cube view."""
        return int(self._flat(z0).shape[1])

    def from_cube(self, u: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        """Feasible parameters for unit-cube points ``u`` in [0, 1]^D of shape (B, D)."""
        z = self.constraint.from_cube(2 * u - 1, self._flat(z0)).reshape(z0.shape)
        return self.extra_project(z, z0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.constraint!r})"
