"""Input validation shared by every component. Raise typed errors that name the bad value."""

from __future__ import annotations

import math

import torch

from semadv.errors import InputError, NonFiniteError


def check_images(x: torch.Tensor, name: str = "images", atol: float = 1e-6) -> torch.Tensor:
    """Check a ``(B, C, H, W)`` floating tensor with values in ``[0, 1]``."""

    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise InputError(f"{name} must have shape (B, C, H, W); got rank {x.dim()} shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be floating point in [0, 1]; got dtype {x.dtype}")
    if x.numel() == 0:
        raise InputError(f"{name} is empty: shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise NonFiniteError(f"{name} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -atol or hi > 1 + atol:
        raise InputError(f"{name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]")
    return x


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """Raise :class:`NonFiniteError` naming ``name`` if ``t`` holds NaN/inf."""

    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise NonFiniteError(f"{name} contains {bad} NaN or infinite value(s)")
    return t


def check_batch(n: int, **tensors: torch.Tensor | None) -> None:
    """Every given tensor must have leading dimension ``n``."""

    for key, t in tensors.items():
        if t is not None and (t.dim() == 0 or t.shape[0] != n):
            shape = tuple(t.shape)
            raise InputError(f"batch size mismatch: {key} has shape {shape}, expected leading dimension {n}")


def check_positive(value: float, name: str) -> float:
    """A finite strictly positive number."""

    v = float(value)
    if not math.isfinite(v) or v <= 0:
        from semadv.errors import ConstraintError

        raise ConstraintError(f"{name} must be a finite number > 0; got {value!r}")
    return v


#: the largest count (steps, samples, restarts, images, …) any component accepts: beyond it a run on
#: this hardware would not finish, so a typo such as ``steps = 1000000000000`` is refused, not started
MAX_COUNT = 10**7
#: the most iterations an iterative search accepts (PGD, FAB, Adam, Type I)
MAX_STEPS = 10**6


def check_int(value: int, name: str, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """An integer in ``[minimum, maximum]`` (``maximum`` bounds absurd sizes with a clear limit)."""

    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value > maximum:
        raise InputError(f"{name} must be at most {maximum:,} (limit of this tool); got {value:,}")
    return value
