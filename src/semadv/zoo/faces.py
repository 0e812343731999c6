"""Face models trained on the faces world: four embedders (2 depths × softmax / ArcFace) with
verification thresholds at FPR 10⁻³, 3×10⁻⁴, 10⁻⁴ from ≥ 10⁵ impostor pairs (seed 000 Table B analogue)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from semadv.training import optimize
from semadv.worlds.datasets import generate
from semadv.zoo.nets_faces import FaceEmbedder, MarginHead
from semadv.zoo.registry import ZooEntry, register_model

N_TRAIN_FACES = 16_000  # ~20 images for each of the 800 training identities
N_TEST_FACES = 2_000  # held-out identities 900-999
FPRS = (1e-3, 3e-4, 1e-4)


def embed(model: nn.Module, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def verification_metrics(model: nn.Module, x: torch.Tensor, ids: torch.Tensor) -> dict[str, Any]:
    """Distances between unit embeddings of all pairs: thresholds at each FPR from the impostor pairs,
    TPR at them, and balanced verification accuracy at the FPR-10⁻³ threshold."""
    e = embed(model, x)
    d = torch.cdist(e, e)
    iu = torch.triu_indices(len(x), len(x), 1)
    dist = d[iu[0], iu[1]].numpy()
    same = (ids[iu[0]] == ids[iu[1]]).numpy()
    imp, gen = np.sort(dist[~same]), dist[same]
    out: dict[str, Any] = {"impostor_pairs": len(imp), "genuine_pairs": len(gen)}
    for fpr in FPRS:
        thr = float(imp[max(0, int(np.floor(fpr * len(imp))) - 1)])  # largest distance with FPR ≤ fpr
        out[f"threshold_fpr_{fpr:g}"] = thr
        out[f"tpr_at_fpr_{fpr:g}"] = float(np.mean(gen <= thr))
    tpr = out["tpr_at_fpr_0.001"]
    out["verification_accuracy"] = 0.5 * (tpr + float(np.mean(imp > out["threshold_fpr_0.001"])))
    return out


def _fit_embedder(margin: float, epochs: int) -> Callable[[nn.Module, int], dict[str, Any]]:
    def fit(model: nn.Module, seed: int) -> dict[str, Any]:
        if not isinstance(model, FaceEmbedder):
            raise TypeError(f"expected a FaceEmbedder; got {type(model).__name__}")
        tr = generate("faces", "train", seed=0, n=N_TRAIN_FACES)
        x, ids = tr["image"], tr["identity"]
        head = MarginHead(model.dim, int(ids.max()) + 1, margin=margin)
        g = torch.Generator().manual_seed(seed)

        def loss_of(idx: torch.Tensor) -> torch.Tensor:
            flip = torch.rand(len(idx), generator=g) < 0.5  # mirror images keep identity parameters
            xb = torch.where(flip[:, None, None, None], x[idx].flip(-1), x[idx])
            return head(model(xb), ids[idx])

        model.train()
        optimize(
            [*model.parameters(), *head.parameters()],
            loss_of,
            len(x),
            epochs,
            64,
            g,
            3e-3,
            weight_decay=5e-4,
            one_cycle=True,
        )
        te = generate("faces", "test", seed=0, n=N_TEST_FACES)
        return verification_metrics(model, te["image"], te["identity"])

    return fit


def _evaluate(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    te = generate("faces", "test", seed=0, n=N_TEST_FACES)
    idx = torch.randperm(N_TEST_FACES, generator=torch.Generator().manual_seed(seed))[: max(n, 600)]
    return verification_metrics(model, te["image"][idx], te["identity"][idx])


def _builder(blocks: int) -> Callable[[], nn.Module]:
    return lambda: FaceEmbedder(blocks=blocks)


_DATA = (
    f"faces world, train split seed 0 ({N_TRAIN_FACES} images of identities 0-799), horizontal flips; "
    f"verification on {N_TEST_FACES} images of held-out identities 900-999"
)
for _name, _desc, _blocks, _margin in (
    ("face-r1-softmax", "face embedder, 1 residual block per stage, softmax loss (R-50-S analogue)", 1, 0.0),
    ("face-r2-softmax", "face embedder, 2 residual blocks per stage, softmax loss (R-101-S analogue)", 2, 0.0),
    ("face-r1-arcface", "face embedder, 1 residual block per stage, ArcFace margin 0.3 (R-50-C analogue)", 1, 0.3),
    ("face-r2-arcface", "face embedder, 2 residual blocks per stage, ArcFace margin 0.3 (R-101-C analogue)", 2, 0.3),
):
    register_model(
        ZooEntry(
            name=_name,
            description=_desc,
            build=_builder(_blocks),
            fit=_fit_embedder(_margin, 6),
            evaluate=_evaluate,
            data=_DATA,
            quick_metric="verification_accuracy",
            tolerance=0.05,
        )
    )
