"""The one dataset runner: an :class:`~semadv.attack.Attack` over a dataset in memory-bounded chunks.

Every user of the engine that attacks more than one batch — campaigns, the ``certify`` and ``run``
commands, the recipes' experiments, the benchmarks — goes through :func:`evaluate`, so chunking,
seeding, progress and result concatenation are written once (TextAttack's split between the per-example
attack and the dataset runner, DESIGN §5).

Chunking only bounds memory: work inside a chunk is vectorised, and with the same ``batch`` and the same
generator state the result is identical run to run. The generator is consumed chunk after chunk (one
stream for the whole dataset), so a different ``batch`` gives a different but equally valid random stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch

from semadv.errors import InputError
from semadv.types import AttackResult

log = logging.getLogger(__name__)

__all__ = ["chunks", "evaluate"]

#: ``progress(done, total)`` — rows finished so far, rows in all
Progress = Callable[[int, int], None]
Data = torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]


def chunks(n: int, size: int) -> list[slice]:
    """Slices of ``size`` rows covering ``n`` (the last one may be shorter)."""
    if int(size) < 1:
        raise InputError(f"batch must be >= 1; got {size!r}")
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


def _split(data: Data) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(data, torch.Tensor):
        return data, None
    if isinstance(data, Sequence) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, t = data
        if t is not None and (not isinstance(t, torch.Tensor) or t.shape[0] != x.shape[0]):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputError(f"target must be a tensor with {x.shape[0]} rows like the inputs; got {shape}")
        return x, t
    raise InputError(f"data must be a tensor x or a pair (x, target); got {type(data).__name__}")


def evaluate(
    attack: Callable[..., AttackResult],
    victim: Callable[[torch.Tensor], torch.Tensor],
    data: Data,
    *,
    batch: int = 64,
    generator: torch.Generator | None = None,
    progress: Progress | None = None,
) -> AttackResult:
    """Run ``attack(victim, x, target)`` over ``data`` in chunks of ``batch`` rows; one concatenated result.

    Args:
        attack: an :class:`~semadv.attack.Attack` (or any callable with its signature).
        victim: the model under attack.
        data: inputs ``x`` (B, …) — for a space with packed sources, the packed tensor — or ``(x, target)``
            with ``target`` of B rows (labels, embeddings, maps …) or ``None``.
        batch: rows per chunk (memory bound).
        generator: the random stream of every search's random choices, consumed chunk after chunk.
        progress: called after each chunk with (rows done, rows in all).

    Returns:
        The :class:`~semadv.types.AttackResult` of all rows in order (wall time summed, warnings kept once).
    """
    x, target = _split(data)
    n = int(x.shape[0])
    if n == 0:
        raise InputError("evaluate: the dataset is empty")
    parts: list[AttackResult] = []
    for s in chunks(n, batch):
        t = None if target is None else target[s]
        parts.append(attack(victim, x[s], t, generator=generator))
        if progress is not None:
            progress(s.stop, n)
        log.debug("evaluate: %d/%d rows", s.stop, n)
    return AttackResult.cat(parts)
