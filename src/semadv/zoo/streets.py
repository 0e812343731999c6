"""Street models trained on the streets world: segmenters (DRN-like, U-Net-like, PSP-lite judge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassJaccardIndex

from semadv.training import optimize
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

        def loss_of(idx: torch.Tensor) -> torch.Tensor:
            flip = torch.rand(len(idx), generator=g) < 0.5  # horizontal flips keep street semantics
            xb = torch.where(flip[:, None, None, None], x[idx].flip(-1), x[idx])
            yb = torch.where(flip[:, None, None], y[idx].flip(-1), y[idx])
            return F.cross_entropy(model(xb), yb, weight=weight)

        model.train()
        optimize(model.parameters(), loss_of, len(x), epochs, 32, g, lr, weight_decay=1e-4, one_cycle=True)
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
    register_model(
        ZooEntry(
            name=_name,
            description=_desc,
            build=_build,
            fit=_fit_segmenter(_epochs),
            evaluate=_evaluate,
            data=_DATA,
            quick_metric="miou",
            tolerance=0.06,
        )
    )


# ----- detectors --------------------------------------------------------------------------------------
MIN_BOX = 3.0  # ground-truth boxes narrower or lower than 3 px are dropped from training and evaluation


def detection_targets(boxes: torch.Tensor, classes: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per image: visible instance boxes (x0, y0, x1, y1) ≥ ``MIN_BOX`` px and classes 0 car, 1 person, 2 cyclist."""
    from semadv.worlds.streets import CAR

    out_b, out_c = [], []
    for b in range(len(boxes)):
        ok = ~boxes[b].isnan().any(1)
        wh = boxes[b, :, 2:] - boxes[b, :, :2]
        ok &= (wh >= MIN_BOX).all(1)
        out_b.append(boxes[b][ok])
        out_c.append((classes[b][ok] - CAR).long())
    return out_b, out_c


def detection_metrics(
    model: nn.Module, x: torch.Tensor, boxes: torch.Tensor, classes: torch.Tensor, batch: int = 64
) -> dict[str, float]:
    """COCO mAP@0.5, mAP@[.5:.95] and recall (AR@100) via faster-coco-eval (torchvision is unavailable)."""
    from faster_coco_eval import COCO, COCOeval_faster

    from semadv.zoo.nets_detect import DET_CLASSES

    gt_b, gt_c = detection_targets(boxes, classes)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs = model.detect(model(x[i : i + batch]))  # type: ignore[operator]
            for j, o in enumerate(outs):
                for bx, s, c in zip(o["boxes"].tolist(), o["scores"].tolist(), o["classes"].tolist(), strict=True):
                    dets.append(
                        {
                            "image_id": i + j + 1,
                            "category_id": int(c) + 1,
                            "score": float(s),
                            "bbox": [bx[0], bx[1], bx[2] - bx[0], bx[3] - bx[1]],
                        }
                    )
    for k in range(len(x)):
        images.append({"id": k + 1, "width": x.shape[-1], "height": x.shape[-2]})
        for bx, c in zip(gt_b[k].tolist(), gt_c[k].tolist(), strict=True):
            w_, h_ = bx[2] - bx[0], bx[3] - bx[1]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": k + 1,
                    "category_id": int(c) + 1,
                    "iscrowd": 0,
                    "bbox": [bx[0], bx[1], w_, h_],
                    "area": w_ * h_,
                }
            )
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(DET_CLASSES)],
    }
    gt.createIndex()
    if not dets:
        return {"map50": 0.0, "map": 0.0, "recall": 0.0}
    ev = COCOeval_faster(gt, gt.loadRes(dets), "bbox", print_function=lambda *a, **k: None)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return {"map50": float(ev.stats[1]), "map": float(ev.stats[0]), "recall": float(ev.stats[8])}


def _fit_detector(epochs: int, lr: float = 2e-3) -> Callable[[nn.Module, int], dict[str, Any]]:
    def fit(model: nn.Module, seed: int) -> dict[str, Any]:
        tr = generate("streets", "train", seed=0, n=N_TRAIN)
        te = generate("streets", "test", seed=0, n=N_TEST)
        gb, gc = detection_targets(tr["boxes"], tr["box_classes"])
        g = torch.Generator().manual_seed(seed)
        W = tr["image"].shape[-1]

        def loss_of(perm_idx: torch.Tensor) -> torch.Tensor:
            idx = perm_idx.tolist()
            flip = (torch.rand(len(idx), generator=g) < 0.5).tolist()
            xb = torch.stack([tr["image"][k].flip(-1) if f else tr["image"][k] for k, f in zip(idx, flip, strict=True)])
            bb = [
                torch.stack([W - gb[k][:, 2], gb[k][:, 1], W - gb[k][:, 0], gb[k][:, 3]], 1) if f else gb[k]
                for k, f in zip(idx, flip, strict=True)
            ]
            return model.loss(model(xb), bb, [gc[k] for k in idx])  # type: ignore[operator]

        model.train()
        optimize(model.parameters(), loss_of, len(gb), epochs, 32, g, lr, weight_decay=1e-4, one_cycle=True)
        return detection_metrics(model, te["image"], te["boxes"], te["box_classes"])

    return fit


def _evaluate_detector(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    te = generate("streets", "test", seed=0, n=N_TEST)
    idx = torch.randperm(N_TEST, generator=torch.Generator().manual_seed(seed))[: min(n, N_TEST)]
    return detection_metrics(model, te["image"][idx], te["boxes"][idx], te["box_classes"][idx])


def _detectors() -> None:
    from semadv.zoo.nets_detect import CenterNetLite, SqueezeDetLite

    for name, desc, build in (
        ("streets-centernet", "CenterNet-style heat-map detector (car, person, cyclist), stride 4", CenterNetLite),
        (
            "streets-squeezedet",
            "SqueezeDet-style anchor detector with a separate confidence term, stride 8",
            SqueezeDetLite,
        ),
    ):
        register_model(
            ZooEntry(
                name=name,
                description=desc,
                build=build,
                fit=_fit_detector(12),
                evaluate=_evaluate_detector,
                data=_DATA + f"; boxes >= {MIN_BOX:g} px",
                quick_metric="map50",
                tolerance=0.08,
            )
        )


_detectors()
