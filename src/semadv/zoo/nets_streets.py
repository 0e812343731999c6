"""Street-scene segmenters (64×128 → 8 classes): a dilated-residual DRN-like net, a U-Net-like
encoder–decoder, and a pyramid-pooling judge of a third design."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Res(nn.Module):
    def __init__(self, c: int, dilation: int) -> None:
        super().__init__()
        self.a = _cbr(c, c, dilation=dilation)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class DRNLike(nn.Module):
    """Dilated residual network (Yu et al. 2017 style): stride-4 stem, residual blocks with dilations
    1, 2, 4, 8 at 1/4 resolution, a 1×1 classifier and bilinear upsampling."""

    def __init__(self, classes: int = 8, width: int = 48) -> None:
        super().__init__()
        self.stem = nn.Sequential(_cbr(3, width // 2, stride=2), _cbr(width // 2, width, stride=2))
        self.blocks = nn.Sequential(*[_Res(width, d) for d in (1, 2, 4, 8, 1)])
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.blocks(self.stem(x)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class UNetLike(nn.Module):
    """U-Net-like encoder–decoder with skip connections (Ronneberger et al. 2015), 3 levels."""

    def __init__(self, classes: int = 8, width: int = 16) -> None:
        super().__init__()
        w = width
        self.e1 = nn.Sequential(_cbr(3, w), _cbr(w, w))
        self.e2 = nn.Sequential(_cbr(w, 2 * w, stride=2), _cbr(2 * w, 2 * w))
        self.e3 = nn.Sequential(_cbr(2 * w, 4 * w, stride=2), _cbr(4 * w, 4 * w))
        self.d2 = nn.Sequential(_cbr(4 * w + 2 * w, 2 * w), _cbr(2 * w, 2 * w))
        self.d1 = nn.Sequential(_cbr(2 * w + w, w), _cbr(w, w))
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        u = F.interpolate(c, size=b.shape[-2:], mode="bilinear", align_corners=False)
        u = self.d2(torch.cat([u, b], 1))
        u = F.interpolate(u, size=a.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.d1(torch.cat([u, a], 1)))


class PyramidJudge(nn.Module):
    """The independent street judge: PSPNet-lite (Zhao et al. 2017) — stride-4 features, pyramid pooling
    at 1, 2 and 4 bins, concatenation, classifier, upsampling."""

    def __init__(self, classes: int = 8, width: int = 40) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _cbr(3, width // 2, stride=2), _cbr(width // 2, width), _cbr(width, width, 2), _cbr(width, width)
        )
        self.bins = (1, 2, 4)
        self.reduce = nn.ModuleList([nn.Conv2d(width, width // 4, 1) for _ in self.bins])
        self.head = nn.Sequential(_cbr(width + len(self.bins) * (width // 4), width), nn.Conv2d(width, classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        pooled = [
            F.interpolate(r(F.adaptive_avg_pool2d(f, b)), size=f.shape[-2:], mode="bilinear", align_corners=False)
            for b, r in zip(self.bins, self.reduce, strict=True)
        ]
        y = self.head(torch.cat([f, *pooled], 1))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
