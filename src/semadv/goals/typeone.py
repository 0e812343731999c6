"""Type I goal: keep the victim's output while the attacker's class changes (seed 001, Eq. 2).

Type II adversarial examples (the usual kind) change the victim's output for an unchanged true class;
Type I examples change the true class a lot while the victim's output stays — false positives. The goal
reads *stacked* outputs ``[victim | attacker]`` of :class:`~semadv.victims.Stack`, so every search and
space of the toolkit can pursue it, and the attack re-verifies both conditions on the final image.

Target layout (B, T): for a classifier victim ``[y, y′]`` (victim class to keep, attacker class wanted;
``y′ = −1`` means "any class but the attacker's original", untargeted); for an embedding victim
``[reference embedding (d), y′]`` with the keep test ‖f1(x′) − f1(x)‖₂ ≤ ``threshold``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semadv.errors import InputError
from semadv.registry import register


@register("goal", "type1")
class KeepAndChange:
    """J1 (victim kept, Eq. 9) and J2 (attacker changed) on stacked outputs; ``loss = J2 + k·J1``.

    Args:
        victim_dim: width of the victim's part of the stacked outputs (K₁ classes or embedding dim d).
        victim: ``"class"`` (J1 = −log f1(x′)_y) or ``"embedding"`` (J1 = ‖f1(x′) − f1(x)‖₂, Eq. 9).
        threshold: the embedding victim's "same" distance (e.g. its FPR-10⁻³ threshold).
        k: weight of J1 in :meth:`loss` (searches like :class:`~semadv.search.TypeOneSearch` adapt it).
        attacker: is there an attacker part (f2 / an auxiliary classifier)? Without one, J2 = 0 and only
            the victim condition is tested (Eq. 13 untargeted).
        attacker_threshold: makes the attacker part an *embedding* (e.g. a second face recogniser standing in
            for the human judge of seed 001 §IV-B): "changed" means its normalised distance to the source's
            embedding exceeds this, and J2 = max(1.1·threshold − distance, 0). The target then holds
            ``[victim reference | attacker reference embedding | y′ (ignored)]``.
    """

    def __init__(
        self,
        victim_dim: int,
        victim: str = "class",
        threshold: float | None = None,
        k: float = 1.0,
        attacker: bool = True,
        attacker_threshold: float | None = None,
    ) -> None:
        if victim not in ("class", "embedding"):
            raise InputError(f"victim must be 'class' or 'embedding'; got {victim!r}")
        if victim == "embedding" and (threshold is None or not float(threshold) > 0):
            raise InputError(f"an embedding victim needs a threshold > 0; got {threshold!r}")
        if int(victim_dim) < 1:
            raise InputError(f"victim_dim must be >= 1; got {victim_dim!r}")
        self.victim_dim, self.victim, self.k, self.attacker = int(victim_dim), victim, float(k), bool(attacker)
        self.threshold = None if threshold is None else float(threshold)
        if attacker_threshold is not None and not (self.attacker and float(attacker_threshold) > 0):
            raise InputError(f"attacker_threshold needs attacker=True and a value > 0; got {attacker_threshold!r}")
        self.attacker_threshold = None if attacker_threshold is None else float(attacker_threshold)

    # ----- target and output layout ----------------------------------------------------------------
    def _ref_width(self) -> int:
        return 1 if self.victim == "class" else self.victim_dim

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None:
            raise InputError("a Type I goal needs a target: [victim class or reference embedding, attacker class]")
        width = self._ref_width() + 1 + (self._attacker_width(outputs) if self.attacker_threshold else 0)
        if target.dim() != 2 or target.shape != (outputs.shape[0], width):
            raise InputError(
                f"target must have shape (B, {width}) = (B, reference + attacker class); got {tuple(target.shape)}"
            )
        min_out = self.victim_dim + (2 if self.attacker else 0)
        if outputs.dim() != 2 or outputs.shape[1] < min_out:
            raise InputError(
                f"stacked outputs must be (B, {self.victim_dim} victim + K attacker); got {tuple(outputs.shape)}"
            )
        return target

    def _attacker_width(self, outputs: torch.Tensor) -> int:
        return int(outputs.shape[1]) - self.victim_dim if outputs.dim() == 2 else 0

    def _attacker_distance(self, a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ref = target[:, self._ref_width() : self._ref_width() + a.shape[1]]
        return (F.normalize(a, dim=1) - F.normalize(ref.to(a), dim=1)).norm(dim=1)

    def split(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return outputs[:, : self.victim_dim], outputs[:, self.victim_dim :]

    # ----- the two losses -------------------------------------------------------------------------
    def parts(self, outputs: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(J1, J2), each (B,): victim-change loss and attacker loss (0 without an attacker)."""
        v, a = self.split(outputs)
        ref, y2 = target[:, : self._ref_width()], target[:, -1].long()
        if self.victim == "class":
            j1 = F.cross_entropy(v, ref[:, 0].long(), reduction="none")
        else:
            j1 = (F.normalize(v, dim=1) - F.normalize(ref.to(v), dim=1)).norm(dim=1)
        if not self.attacker:
            return j1, torch.zeros_like(j1)
        if self.attacker_threshold is not None:
            return j1, torch.clamp(1.1 * self.attacker_threshold - self._attacker_distance(a, target), min=0)
        targeted = y2 >= 0
        logp = F.log_softmax(a, dim=1)
        j2_t = -logp.gather(1, y2.clamp_min(0)[:, None])[:, 0]
        # untargeted: push down the attacker's currently most likely class
        j2_u = logp.max(dim=1).values.exp()
        return j1, torch.where(targeted, j2_t, j2_u)

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        j1, j2 = self.parts(outputs, target)
        return j2 + self.k * j1

    # ----- success: the conditions, separately and jointly --------------------------------------
    def conditions(
        self, outputs: torch.Tensor, target: torch.Tensor, attacker_source: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``victim_kept`` and ``attacker_changed`` (B,) bool, evaluated independently. ``attacker_source``:
        the attacker's class on the source image (needed for untargeted rows)."""
        v, a = self.split(outputs)
        ref, y2 = target[:, : self._ref_width()], target[:, -1].long()
        if self.victim == "class":
            kept = v.argmax(dim=1) == ref[:, 0].long()
        else:
            assert self.threshold is not None
            kept = (F.normalize(v, dim=1) - F.normalize(ref.to(v), dim=1)).norm(dim=1) <= self.threshold
        if not self.attacker:
            return {"victim_kept": kept, "attacker_changed": torch.ones_like(kept)}
        if self.attacker_threshold is not None:
            return {
                "victim_kept": kept,
                "attacker_changed": self._attacker_distance(a, target) > self.attacker_threshold,
            }
        pred = a.argmax(dim=1)
        if attacker_source is None:
            changed = torch.where(y2 >= 0, pred == y2, torch.ones_like(kept))
        else:
            changed = torch.where(y2 >= 0, pred == y2, pred != attacker_source.long())
        return {"victim_kept": kept, "attacker_changed": changed}

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        c = self.conditions(outputs, target)
        return c["victim_kept"] & c["attacker_changed"]

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """One column: the smaller of the victim's keep margin and the attacker's target margin."""
        assert target is not None
        v, a = self.split(outputs)
        ref, y2 = target[:, : self._ref_width()], target[:, -1].long()
        if self.victim == "class":
            y = ref[:, 0].long()
            own = v.gather(1, y[:, None])[:, 0]
            keep = own - v.scatter(1, y[:, None], float("-inf")).max(dim=1).values
        else:
            assert self.threshold is not None
            keep = self.threshold - (F.normalize(v, dim=1) - F.normalize(ref.to(v), dim=1)).norm(dim=1)
        if not self.attacker:
            return keep[:, None]
        if self.attacker_threshold is not None:
            return torch.minimum(keep, self._attacker_distance(a, target) - self.attacker_threshold)[:, None]
        yt = y2.clamp_min(0)
        own2 = a.gather(1, yt[:, None])[:, 0]
        change = own2 - a.scatter(1, yt[:, None], float("-inf")).max(dim=1).values
        return torch.minimum(keep, change)[:, None]

    def __repr__(self) -> str:
        return f"KeepAndChange(victim={self.victim!r}, victim_dim={self.victim_dim}, k={self.k:g})"
