"""Face embedders for 64×64 faces: residual CNNs with an L2-normalised embedding, trained with a softmax
head or an additive angular margin (ArcFace, Deng et al. 2019) — seed 000's R-50/R-101 × softmax/cosine
analogues at toy scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semadv.zoo.nets_streets import _cbr, _Res


class FaceEmbedder(nn.Module):
    """``blocks`` residual blocks per stage over 3 stages (stride 2 each after a stride-2 stem), global
    pooling, a linear projection to ``dim`` and L2 normalisation. ``forward`` returns unit embeddings."""

    def __init__(self, blocks: int = 1, dim: int = 64, width: int = 32) -> None:
        super().__init__()
        w = width
        layers: list[nn.Module] = [_cbr(3, w, stride=2)]
        for i, c in enumerate((w, 2 * w, 4 * w)):
            cin = w if i == 0 else c // 2
            layers.append(_cbr(cin, c, stride=2))
            layers += [_Res(c, 1) for _ in range(blocks)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Sequential(nn.Linear(4 * w, dim), nn.BatchNorm1d(dim))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.features(x)), dim=1)


class MarginHead(nn.Module):
    """Classification head on unit embeddings: plain softmax on scaled cosines (margin 0) or ArcFace
    (cos(θ + m) for the true class), scale s."""

    def __init__(self, dim: int, classes: int, margin: float = 0.0, scale: float = 16.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = emb @ F.normalize(self.weight, dim=1).T
        if self.margin > 0:
            theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
            target = torch.cos(theta + self.margin)
            onehot = F.one_hot(labels, cos.shape[1]).bool()
            cos = torch.where(onehot, target, cos)
        return F.cross_entropy(self.scale * cos, labels)
