"""The six concepts (DESIGN §2): Victim, Goal, Space, Search, Attack (see :mod:`semadv.attack`) and
AttackResult, plus the :class:`Problem` a search is handed.

* **Victim** — any callable ``nn.Module`` mapping images ``(B, C, H, W)`` in ``[0, 1]`` to outputs.
* **Goal** — per-sample ``loss`` (lower is closer to the goal) and ``reached`` test; stateless.
* **Space** — parameters ``z`` ↦ image (threat model), see :class:`semadv.spaces.base.Space`.
* **Search** — finds ``z`` for a :class:`Problem`, see :class:`semadv.search.base.Search`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch

from semadv.checks import check_finite
from semadv.errors import InputError

if TYPE_CHECKING:
    from semadv.spaces.base import Space

__all__ = ["AttackResult", "Evaluation", "Goal", "Problem", "Victim"]


@runtime_checkable
class Victim(Protocol):
    """A model under attack: images ``(B, C, H, W)`` in ``[0, 1]`` → outputs with leading dim ``B``."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Goal(Protocol):
    """A per-sample objective and success test for one task. Targets are passed at call time."""

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """(B,) differentiable loss; searches *minimise* it."""
        ...

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """(B,) bool: does each output satisfy the goal?"""
        ...

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor | None:
        """Validate (and possibly normalise) ``target`` for clean ``outputs``; raise InputError if bad."""
        ...


@dataclass(frozen=True)
class Evaluation:
    """What one query of decode∘victim∘goal returns for a batch."""

    loss: torch.Tensor  # (B,)
    reached: torch.Tensor  # (B,) bool
    outputs: torch.Tensor  # (B, ...)
    grad: torch.Tensor | None = None  # d loss / d z, shape of z


@dataclass(frozen=True)
class Problem:
    """An explicit optimisation problem handed to a search (DESIGN §2).

    Rows are samples; ``index`` maps every row to the original sample, so restarts (``repeat``) and
    early-stopped subsets (``subset``) still count queries per original sample in ``queries``.
    """

    victim: Callable[[torch.Tensor], torch.Tensor]
    goal: Goal
    space: Space
    x: torch.Tensor
    z0: torch.Tensor
    target: torch.Tensor | None
    index: torch.Tensor
    queries: torch.Tensor  # (B_original,) int64, shared and updated in place
    #: the attack's own evaluation at z0 (with gradient), reusable by searches that start at z0
    start: Evaluation | None = None
    #: kind of ground truth the target is (:mod:`semadv.truth`) when the space moves it: then every query
    #: scores the outputs against the target moved to that query's scene (:meth:`observe`)
    truth_kind: str | None = None

    @classmethod
    def create(
        cls,
        victim: Callable[[torch.Tensor], torch.Tensor],
        goal: Goal,
        space: Space,
        x: torch.Tensor,
        z0: torch.Tensor,
        target: torch.Tensor | None,
        start: Evaluation | None = None,
        truth_kind: str | None = None,
    ) -> Problem:
        """A fresh problem with a zeroed per-sample query counter."""
        n = x.shape[0]
        index = torch.arange(n, device=x.device)
        queries = torch.zeros(n, dtype=torch.int64, device=x.device)
        return cls(victim, goal, space, x, z0, target, index, queries, start, truth_kind)

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    def _take(self, idx: torch.Tensor) -> dict[str, Any]:
        return {
            "x": self.x[idx],
            "z0": self.z0[idx],
            "target": None if self.target is None else self.target[idx],
            "index": self.index[idx],
            "start": None
            if self.start is None
            else Evaluation(
                self.start.loss[idx],
                self.start.reached[idx],
                self.start.outputs[idx],
                None if self.start.grad is None else self.start.grad[idx],
            ),
        }

    def subset(self, idx: torch.Tensor) -> Problem:
        """The problem restricted to rows ``idx`` (shares the query counter)."""
        return dataclasses.replace(self, **self._take(idx))

    def repeat(self, r: int) -> Problem:
        """Stack ``r`` copies along the batch axis (restarts as a batch axis, DESIGN §5 principle 2)."""
        if r == 1:
            return self
        idx = torch.arange(self.batch, device=self.x.device).repeat(r)
        return self.subset(idx)

    def _count(self) -> None:
        self.queries.index_add_(0, self.index, torch.ones_like(self.index))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Victim outputs on ``decode(z, x)`` (counts one query per row)."""
        return self.observe(z)[0]

    def observe(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Victim outputs on the image of ``z`` and the target *for that image*: the target itself, or —
        when it is ground truth the space moves (``truth_kind``) — the target moved with the scene
        (differentiable in ``z`` where the space is). Counts one query per row."""
        self._count()
        if self.truth_kind is None or self.target is None:
            img, target = self.space.decode(z, self.x), self.target
        else:
            from semadv.truth import decode_moving

            img, target = decode_moving(self.space, self.goal, z, self.x, self.target, self.truth_kind)
        return check_finite(self.victim(img), "victim outputs"), target

    def evaluate(self, z: torch.Tensor) -> Evaluation:
        """Loss and success without gradients."""
        with torch.no_grad():
            out, target = self.observe(z)
            return Evaluation(self.goal.loss(out, target), self.goal.reached(out, target), out)

    def evaluate_with_grad(self, z: torch.Tensor) -> Evaluation:
        """Loss, success and ∂loss/∂z (one forward and one backward pass)."""
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            out, target = self.observe(zz)
            loss = self.goal.loss(out, target)
            if loss.requires_grad:
                (grad,) = torch.autograd.grad(loss.sum(), zz)
            else:  # the graph is cut (argmax, thresholding, no_grad victim): the gradient is zero
                grad = torch.zeros_like(zz)
        with torch.no_grad():
            reached = self.goal.reached(out.detach(), None if target is None else target.detach())
        return Evaluation(loss.detach(), reached, out.detach(), grad)


@dataclass(frozen=True)
class AttackResult:
    """The one result type of every attack: per-sample tensors of shape ``(B,)`` plus the adversarials.

    ``success`` is decided by the attack re-running the victim on ``x_adv`` — never by the search.
    ``distance`` is measured in the space's own metric; ``warnings`` are AutoAttack-style sanity flags.
    """

    success: torch.Tensor
    distance: torch.Tensor
    loss: torch.Tensor
    queries: torch.Tensor
    steps: torch.Tensor
    z_adv: torch.Tensor
    x_adv: torch.Tensor
    z0: torch.Tensor
    clean_reached: torch.Tensor
    wall_time: float
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: the target moved to the adversarial scene (ground-truth goals in spaces that move content, issue 26);
    #: None when the target did not move
    target_adv: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        return int(self.success.shape[0])

    @property
    def attacked(self) -> torch.Tensor:
        """(B,) bool: rows where the goal was *not* already reached on the clean input (for an untargeted
        misclassification: the victim was right). Rates are defined on these rows."""
        return ~self.clean_reached.bool()

    @property
    def success_rate(self) -> float:
        """Successes among the attacked rows (clean input not already a success), as the campaign report
        counts them; NaN when no row was attacked. ``success`` itself also flags rows reached at the start."""
        a = self.attacked
        if not bool(a.any()):
            return float("nan")
        return float(self.success[a].float().mean())

    def summary(self) -> dict[str, float]:
        """Aggregate numbers for a table row (``success_rate`` on attacked rows, ``n_attacked`` of ``n``)."""
        s = self.success & self.attacked
        return {
            "n": float(self.batch),
            "n_attacked": float(self.attacked.sum()),
            "success_rate": self.success_rate,
            "median_distance": float(self.distance[s].median()) if bool(s.any()) else float("nan"),
            "mean_queries": float(self.queries.float().mean()),
            "wall_time_s": self.wall_time,
        }

    def with_warnings(self, *extra: str) -> AttackResult:
        return dataclasses.replace(self, warnings=self.warnings + tuple(extra))

    # ----- combining results ------------------------------------------------------------------------
    @classmethod
    def cat(cls, results: Sequence[AttackResult]) -> AttackResult:
        """Concatenate results along the batch axis (chunks of one dataset run by :func:`semadv.runner.evaluate`).

        Per-sample tensors are concatenated, wall times summed, warnings kept once each in first-seen order.
        """
        if not results:
            raise InputError("AttackResult.cat needs at least one result")
        if len(results) == 1:
            return results[0]
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            vals = [getattr(r, f.name) for r in results]
            if f.name == "wall_time":
                fields[f.name] = float(sum(vals))
            elif f.name == "warnings":
                fields[f.name] = tuple(dict.fromkeys(w for v in vals for w in v))
            elif f.name in _OPTIONAL_FIELDS and any(v is None for v in vals):
                if not all(v is None for v in vals):
                    raise InputError(f"AttackResult.cat: field {f.name!r} is set in some results only")
                fields[f.name] = None
            else:
                shapes = {tuple(v.shape[1:]) for v in vals}
                if len(shapes) != 1:
                    raise InputError(f"AttackResult.cat: field {f.name!r} has differing per-sample shapes {shapes}")
                fields[f.name] = torch.cat(vals)
        return cls(**fields)

    def take(self, idx: torch.Tensor) -> AttackResult:
        """The rows ``idx`` (a (K,) index or (B,) bool mask) as a result of batch K."""
        idx = torch.as_tensor(idx)
        if idx.dtype == torch.bool:
            if idx.shape != (self.batch,):
                raise InputError(f"mask must have shape ({self.batch},); got {tuple(idx.shape)}")
            idx = idx.nonzero().flatten()
        idx = idx.long().cpu()
        if idx.numel() and (int(idx.min()) < -self.batch or int(idx.max()) >= self.batch):
            raise InputError(f"row index out of range for a result of batch {self.batch}")
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name)[idx]
                for f in dataclasses.fields(self)
                if f.name not in _SCALAR_FIELDS and getattr(self, f.name) is not None
            },
        )

    def reduce(self, groups: torch.Tensor, mode: str = "best") -> AttackResult:
        """One row per group (rows sharing a ``groups`` id, e.g. the K attributes or K targets tried for
        one source). Groups come out in ascending id order.

        * ``"best"`` — the group succeeds if any row did; the kept row is the successful one with the
          smallest distance (FAB's argmin over targets; SemanticAdv's *Best* over attributes, seed 000
          Table C), else the row with the smallest loss.
        * ``"any"`` — the group succeeds if any row did; the kept row is the first successful one (any-of-K
          targets), else the first row.
        * ``"worst"`` — the group succeeds only if every row did; the kept row is a failed one with the
          largest loss, else the successful one with the largest distance (*Worst* of Table C).

        *Average* over a group is the plain success rate of the unreduced result. Queries and steps are
        summed over the group (every row's work was spent on the source); ``clean_reached`` is taken from
        the kept row.
        """
        groups = torch.as_tensor(groups).cpu()
        if groups.shape != (self.batch,):
            raise InputError(f"groups must have shape ({self.batch},); got {tuple(groups.shape)}")
        if mode not in ("best", "any", "worst"):
            raise InputError(f"mode must be 'best', 'any' or 'worst'; got {mode!r}")
        ids, inv = torch.unique(groups, return_inverse=True)
        g = len(ids)
        rows = torch.arange(self.batch)
        inf = torch.tensor(float("inf"))
        s = self.success.bool()
        if mode == "best":
            # lexicographic key: successes first (0), then distance, failures by loss
            key1 = (~s).double()
            key2 = torch.where(s, self.distance.double(), self.loss.double())
        elif mode == "any":
            key1 = (~s).double()
            key2 = rows.double()
        else:
            key1 = s.double()
            key2 = torch.where(s, -self.distance.double(), -self.loss.double())
        key2 = torch.nan_to_num(key2, nan=float(inf), posinf=float(inf))
        # order rows by (group, key1, key2, row) and keep the first row of each group
        order = torch.from_numpy(
            np.lexsort((rows.numpy(), key2.numpy(), key1.numpy(), inv.numpy()))  # last key is primary
        )
        first = torch.ones(self.batch, dtype=torch.bool)
        first[1:] = inv[order][1:] != inv[order][:-1]
        kept = order[first]
        out = self.take(kept)
        succ = _group_bool(inv, s, g, mode)
        queries = torch.zeros(g, dtype=self.queries.dtype).index_add_(0, inv, self.queries)
        steps = torch.zeros(g, dtype=self.steps.dtype).index_add_(0, inv, self.steps)
        return dataclasses.replace(out, success=succ, queries=queries, steps=steps)


_SCALAR_FIELDS = ("wall_time", "warnings")
_OPTIONAL_FIELDS = ("target_adv",)


def _group_bool(inv: torch.Tensor, s: torch.Tensor, g: int, mode: str) -> torch.Tensor:
    """Per-group any (``best``/``any``) or all (``worst``) of the (B,) bool ``s``."""
    count = torch.zeros(g, dtype=torch.int64).index_add_(0, inv, s.long())
    if mode == "worst":
        size = torch.zeros(g, dtype=torch.int64).index_add_(0, inv, torch.ones_like(inv))
        return count == size
    return count > 0
