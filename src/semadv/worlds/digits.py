"""scikit-learn's bundled handwritten digits (real data, no download), as image tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semadv.checks import check_int


def load_digits(
    size: int = 16, seed: int = 0, test_fraction: float = 0.25
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(x_train, y_train, x_test, y_test)``; images (N, 1, size, size) in [0, 1], float32.

    The 8×8 originals (values 0–16) are scaled to [0, 1] and bilinearly resized to ``size``. The split
    is a seeded permutation.
    """

    from sklearn.datasets import load_digits as _load

    check_int(size, "size", minimum=8, maximum=1024)
    d = _load()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.tensor(d.target, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    n_test = int(len(y) * test_fraction)
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]
