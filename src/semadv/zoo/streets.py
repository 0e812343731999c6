"""Street models trained on the streets world: segmenters (DRN-like, U-Net-like, PSP-lite judge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassJaccardIndex

from semadv.worlds.datasets import generate
from semadv.worlds.streets import CLASSES
from semadv.zoo.nets_streets import DRNLike, PyramidJudge, UNetLike
from semadv.zoo.registry import ZooEntry, register_model

N_TRAIN, N_TEST = 2400, 300


def miou(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, batch: int = 64) -> dict[str, float]:
    """Mean IoU over the 8 classes (torchmetrics ``MulticlassJaccardIndex``, macro) and per-class IoU."""
    metric = MulticlassJaccardIndex(num_classes=len(CLASSES), average=None)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            metric.update(model(x[i : i + batch]).argmax(1), labels[i : i + batch])
    per = metric.compute()
    out = {"miou": float(per.mean())}
    out.update({f"iou_{c}": float(v) for c, v in zip(CLASSES, per.tolist(), strict=True)})
    return out


def _fit_segmenter(epochs: int, lr: float = 2e-3) -> Callable[[nn.Module, int], dict[str, Any]]:
    def fit(model: nn.Module, seed: int) -> dict[str, Any]:
        tr = generate("streets", "train", seed=0, n=N_TRAIN)
        te = generate("streets", "test", seed=0, n=N_TEST)
        x, y = tr["image"], tr["labels"]
        # class-balanced cross-entropy: small classes (people, cyclists) get more weight
        freq = torch.bincount(y.flatten(), minlength=len(CLASSES)).float()
        weight = (freq.sum() / (len(CLASSES) * freq.clamp_min(1))).clamp(max=10.0) ** 0.5
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        steps = epochs * ((len(x) + 31) // 32)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 32):
                idx = perm[i : i + 32]
                xb = x[idx]
                flip = torch.rand(len(idx), generator=g) < 0.5  # horizontal flips keep street semantics
                xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                yb = torch.where(flip[:, None, None], y[idx].flip(-1), y[idx])
                loss = F.cross_entropy(model(xb), yb, weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        return miou(model, te["image"], te["labels"])

    return fit


def _evaluate(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    te = generate("streets", "test", seed=0, n=N_TEST)
    idx = torch.randperm(N_TEST, generator=torch.Generator().manual_seed(seed))[: min(n, N_TEST)]
    return miou(model, te["image"][idx], te["labels"][idx])


_DATA = f"streets world, train split seed 0 ({N_TRAIN} scenes), horizontal flips; test split seed 0 ({N_TEST})"
for _name, _desc, _build, _epochs in (
    ("streets-drn", "DRN-like dilated residual segmenter (8 classes)", lambda: DRNLike(), 12),
    ("streets-unet", "U-Net-like encoder-decoder segmenter (8 classes)", lambda: UNetLike(), 10),
    ("streets-judge", "independent street judge: PSPNet-lite pyramid-pooling segmenter", lambda: PyramidJudge(), 12),
):
    register_model(ZooEntry(name=_name, description=_desc, build=_build, fit=_fit_segmenter(_epochs),
                            evaluate=_evaluate, data=_DATA, quick_metric="miou", tolerance=0.06))
