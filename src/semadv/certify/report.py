"""Summaries of certificates (data for reports): curves with Clopper–Pearson intervals, ACR, abstentions."""

from __future__ import annotations

from typing import Any

import torch

from semadv.certify.smoothing import ABSTAIN, Certificate, average_certified_radius, certified_accuracy
from semadv.stats import clopper_pearson


def summarize(cert: Certificate, labels: torch.Tensor, alpha: float, points: int = 11) -> dict[str, Any]:
    """JSON-ready summary: accuracy, abstention rate, ACR, and the certified-accuracy curve on a radius
    grid from 0 to the largest certified radius, each point with a 95% Clopper–Pearson interval."""
    n = len(labels)
    rmax = float(cert.radius.max()) if n else 0.0
    grid = torch.linspace(0, rmax, points, dtype=torch.float64) if rmax > 0 else torch.zeros(1, dtype=torch.float64)
    curve = certified_accuracy(cert, labels, grid)
    k = (curve * n).round().long().numpy()
    lo, hi = clopper_pearson(k, n, 0.05)
    return {
        "n": n,
        "certify_alpha": alpha,
        "accuracy": float(cert.correct(labels).double().mean()),
        "abstain_rate": float((cert.prediction == ABSTAIN).double().mean()),
        "acr": average_certified_radius(cert, labels),
        "wall_time_s": cert.wall_time,
        "curve": {
            "radius": grid.tolist(),
            "certified_accuracy": curve.tolist(),
            "ci_low": lo.tolist(),
            "ci_high": hi.tolist(),
        },
    }
