"""Small one-stage street detectors for cars, persons and cyclists (64×128 inputs).

* :class:`CenterNetLite` — heat-map detector (Zhou et al. 2019, "Objects as Points"): per-class centre
  heat-maps, box size and sub-cell offset at stride 4.
* :class:`SqueezeDetLite` — anchor-based detector (Wu et al. 2017, SqueezeDet): per anchor a separate
  confidence score (trained towards the IoU of its decoded box, as in SqueezeDet), class probabilities and
  box deltas at stride 4; seed 003 attacks its confidence term.

Both return raw head tensors from ``forward`` (so attacks can target any term) and decode them with
:meth:`detect` into boxes (x0, y0, x1, y1) in pixels, scores and classes (0 car, 1 person, 2 cyclist).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semadv.zoo.nets_streets import _cbr, _Res

DET_CLASSES = ("car", "person", "cyclist")
ANCHORS = torch.tensor([(5.0, 9.0), (9.0, 18.0), (14.0, 9.0), (22.0, 13.0), (36.0, 20.0), (14.0, 26.0)])


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix between boxes a (N, 4) and b (M, 4) in (x0, y0, x1, y1)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None] - inter).clamp_min(1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float = 0.5) -> torch.Tensor:
    """Greedy non-maximum suppression; returns kept indices sorted by score."""
    order = scores.argsort(descending=True)
    keep = []
    while order.numel():
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        rest = order[1:]
        order = rest[box_iou(boxes[i][None], boxes[rest])[0] <= iou]
    return torch.tensor(keep, dtype=torch.long)


class _Backbone(nn.Module):
    def __init__(self, width: int, stride: int) -> None:
        super().__init__()
        layers = [_cbr(3, width // 2, stride=2), _cbr(width // 2, width, stride=2)]
        if stride == 8:
            layers.append(_cbr(width, width, stride=2))
        self.net = nn.Sequential(*layers, _Res(width, 1), _Res(width, 2), _Res(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CenterNetLite(nn.Module):
    stride = 4

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.backbone = _Backbone(width, 4)
        heat_out = nn.Conv2d(width, len(DET_CLASSES), 1)
        if heat_out.bias is not None:
            nn.init.constant_(heat_out.bias, -2.2)  # prior 0.1
        self.heat = nn.Sequential(_cbr(width, width), heat_out)
        self.reg = nn.Sequential(_cbr(width, width), nn.Conv2d(width, 4, 1))  # w, h (in units of 16 px), dx, dy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3 + 4, H/4, W/4): class heat-map logits, then size and offset."""
        f = self.backbone(x)
        return torch.cat([self.heat(f), self.reg(f)], 1)

    def loss(self, out: torch.Tensor, boxes: list[torch.Tensor], classes: list[torch.Tensor]) -> torch.Tensor:
        B, _, h, w = out.shape
        heat_t = torch.zeros(B, len(DET_CLASSES), h, w)
        reg_t = torch.zeros(B, 4, h, w)
        mask = torch.zeros(B, h, w, dtype=torch.bool)
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
        )
        for b in range(B):
            for box, c in zip(boxes[b], classes[b], strict=True):
                cx, cy = (box[0] + box[2]) / 2 / self.stride, (box[1] + box[3]) / 2 / self.stride
                bw, bh = (box[2] - box[0]) / self.stride, (box[3] - box[1]) / self.stride
                sigma = max(0.5, float(min(bw, bh)) / 3)
                ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
                g = torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
                heat_t[b, c] = torch.maximum(heat_t[b, c], g)
                reg_t[b, :, iy, ix] = torch.tensor([bw * self.stride / 16, bh * self.stride / 16, cx - ix, cy - iy])
                mask[b, iy, ix] = True
        p = torch.sigmoid(out[:, : len(DET_CLASSES)]).clamp(1e-4, 1 - 1e-4)
        pos = heat_t.eq(1).float()
        neg = 1 - pos
        focal = -(pos * (1 - p) ** 2 * torch.log(p) + neg * (1 - heat_t) ** 4 * p**2 * torch.log(1 - p)).sum()
        npos = pos.sum().clamp_min(1)
        reg = out[:, len(DET_CLASSES) :].permute(0, 2, 3, 1)[mask]
        reg_loss = F.l1_loss(reg, reg_t.permute(0, 2, 3, 1)[mask], reduction="sum") if mask.any() else out.sum() * 0
        return focal / npos + reg_loss / npos

    def detect(self, out: torch.Tensor, k: int = 20, threshold: float = 0.05) -> list[dict[str, torch.Tensor]]:
        heat = torch.sigmoid(out[:, : len(DET_CLASSES)])
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
        B, C, h, w = heat.shape
        res = []
        for b in range(B):
            scores, idx = peaks[b].flatten().topk(min(k, C * h * w))
            keep = scores > threshold
            scores, idx = scores[keep], idx[keep]
            cls = idx // (h * w)
            iy, ix = (idx % (h * w)) // w, idx % w
            reg = out[b, C:, iy, ix]
            cx, cy = (ix + reg[2]) * self.stride, (iy + reg[3]) * self.stride
            bw, bh = reg[0].clamp_min(0) * 16, reg[1].clamp_min(0) * 16
            boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
            res.append({"boxes": boxes, "scores": scores, "classes": cls})
        return res


class SqueezeDetLite(nn.Module):
    stride = 4

    def __init__(self, width: int = 48) -> None:
        super().__init__()
        self.backbone = _Backbone(width, 4)
        self.A = len(ANCHORS)
        self.head = nn.Conv2d(width, self.A * (1 + len(DET_CLASSES) + 4), 3, padding=1)
        bias = self.head.bias
        if bias is not None:
            with torch.no_grad():  # confidence prior ≈ 0.02 so the first steps are not dominated by negatives
                bias.view(self.A, -1)[:, 0] = -4.0
        self.register_buffer("anchors", ANCHORS.clone())

    anchors: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, A·(1 + 3 + 4), H/8, W/8): per anchor a confidence logit, class logits and box deltas."""
        return self.head(self.backbone(x))

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(confidence logits (B, N), class logits (B, N, 3), deltas (B, N, 4)) over N = h·w·A anchors."""
        B, _, h, w = out.shape
        o = out.reshape(B, self.A, 1 + len(DET_CLASSES) + 4, h, w).permute(0, 3, 4, 1, 2).reshape(B, h * w * self.A, -1)
        return o[..., 0], o[..., 1 : 1 + len(DET_CLASSES)], o[..., 1 + len(DET_CLASSES) :]

    def anchor_boxes(self, h: int, w: int) -> torch.Tensor:
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        cx = ((xs + 0.5) * self.stride).reshape(-1, 1).expand(-1, self.A)
        cy = ((ys + 0.5) * self.stride).reshape(-1, 1).expand(-1, self.A)
        aw, ah = self.anchors[:, 0].expand_as(cx), self.anchors[:, 1].expand_as(cy)
        return torch.stack([cx, cy, aw, ah], -1).reshape(-1, 4)  # (N, 4) centre-size

    def decode_boxes(self, deltas: torch.Tensor, h: int, w: int) -> torch.Tensor:
        a = self.anchor_boxes(h, w).to(deltas)
        cx = a[:, 0] + deltas[..., 0] * a[:, 2]
        cy = a[:, 1] + deltas[..., 1] * a[:, 3]
        bw = a[:, 2] * torch.exp(deltas[..., 2].clamp(-4, 4))
        bh = a[:, 3] * torch.exp(deltas[..., 3].clamp(-4, 4))
        return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)

    def loss(self, out: torch.Tensor, boxes: list[torch.Tensor], classes: list[torch.Tensor]) -> torch.Tensor:
        """SqueezeDet loss: confidence (BCE towards the predicted box's IoU for positives, 0 for the rest;
        positives weighted up), class CE and smooth-L1 deltas on the anchors responsible for each
        ground-truth box (its centre cell, best-IoU anchor shape)."""
        conf, cls, deltas = self.split(out)
        B, _, h, w = out.shape
        a = self.anchor_boxes(h, w)
        conf_t = torch.zeros_like(conf)
        pos = torch.zeros_like(conf, dtype=torch.bool)
        total = out.sum() * 0
        npos = 0
        with torch.no_grad():
            predicted = self.decode_boxes(deltas.detach(), h, w)  # (B, N, 4)
        for b in range(B):
            for box, c in zip(boxes[b], classes[b], strict=True):
                gx, gy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                gw, gh = (box[2] - box[0]).clamp_min(1), (box[3] - box[1]).clamp_min(1)
                ix, iy = min(int(gx // self.stride), w - 1), min(int(gy // self.stride), h - 1)
                shape_iou = (torch.minimum(self.anchors[:, 0], gw) * torch.minimum(self.anchors[:, 1], gh)) / (
                    self.anchors[:, 0] * self.anchors[:, 1]
                    + gw * gh
                    - torch.minimum(self.anchors[:, 0], gw) * torch.minimum(self.anchors[:, 1], gh)
                )
                k = (iy * w + ix) * self.A + int(shape_iou.argmax())
                t = torch.stack(
                    [
                        (gx - a[k, 0]) / a[k, 2],
                        (gy - a[k, 1]) / a[k, 3],
                        torch.log(gw / a[k, 2]),
                        torch.log(gh / a[k, 3]),
                    ]
                )
                total = (
                    total
                    + F.smooth_l1_loss(deltas[b, k], t, reduction="sum")
                    + F.cross_entropy(cls[b, k][None], c[None].long())
                )
                # SqueezeDet's confidence target: the IoU of the anchor's current prediction with its object
                conf_t[b, k] = box_iou(predicted[b, k][None], box[None])[0, 0].clamp(0.1, 1.0)
                pos[b, k] = True
                npos += 1
        weight = torch.where(pos, 20.0, 1.0)
        conf_loss = F.binary_cross_entropy_with_logits(conf, conf_t, weight=weight, reduction="sum")
        return (total + conf_loss) / max(npos, 1)

    def detect(self, out: torch.Tensor, threshold: float = 0.05, k: int = 50) -> list[dict[str, torch.Tensor]]:
        conf, cls, deltas = self.split(out)
        B, _, h, w = out.shape
        boxes = self.decode_boxes(deltas, h, w)
        prob = torch.sigmoid(conf)[..., None] * torch.softmax(cls, -1)
        res = []
        for b in range(B):
            score, c = prob[b].max(-1)
            top = score.topk(min(k, len(score))).indices
            top = top[score[top] > threshold]
            kb, ks, kc = boxes[b, top], score[top], c[top]
            keep = []
            for cc in kc.unique():
                m = (kc == cc).nonzero()[:, 0]
                keep.append(m[nms(kb[m], ks[m], 0.4)])
            kk = torch.cat(keep) if keep else torch.zeros(0, dtype=torch.long)
            res.append({"boxes": kb[kk], "scores": ks[kk], "classes": kc[kk]})
        return res
