"""Small helpers the claim measures share: a rate with its Wilson interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from semadv.stats import wilson


def rate(values: Sequence[bool | float] | np.ndarray) -> dict[str, Any]:
    """``{"rate", "ci": [lo, hi], "n"}`` of a list of per-sample outcomes (Wilson 95 %)."""
    v = np.asarray(values, dtype=float)
    k, n = round(float(v.sum())), int(v.size)
    lo, hi = wilson(k, n) if n else (np.nan, np.nan)
    return {"rate": k / n if n else float("nan"), "ci": [round(float(lo), 6), round(float(hi), 6)], "n": n}


def rate_of(p: float, n: int) -> dict[str, Any]:
    """The same for a stored rate ``p`` over ``n`` samples (rounded back to a count)."""
    k = round(p * n)
    lo, hi = wilson(k, n) if n else (np.nan, np.nan)
    return {"rate": float(p), "ci": [round(float(lo), 6), round(float(hi), 6)], "n": int(n)}
