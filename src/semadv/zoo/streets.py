"""Street models trained on the streets world: segmenters (DRN-like, U-Net-like, PSP-lite judge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassJaccardIndex

from semadv.errors import RegistryError
from semadv.stats import frechet_distance
from semadv.training import optimize
from semadv.worlds.datasets import generate
from semadv.worlds.streets import CLASSES, MIN_BOX
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
# ground-truth boxes narrower or lower than MIN_BOX (3 px) are dropped from training and evaluation


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


def detections(model: nn.Module, x: torch.Tensor, batch: int = 64) -> list[dict[str, torch.Tensor]]:
    """The detector's detections (``boxes``, ``scores``, ``classes``) on every image, in batches."""
    model.eval()
    out: list[dict[str, torch.Tensor]] = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.extend(model.detect(model(x[i : i + batch])))  # type: ignore[operator]
    return out


def coco_metrics(
    dets: list[dict[str, torch.Tensor]], boxes: torch.Tensor, classes: torch.Tensor, H: int, W: int
) -> dict[str, float]:
    """COCO mAP@0.5, mAP@[.5:.95] and recall (AR@100) of per-image detections ``dets`` against ground truth
    (boxes/classes as the world renders them), via faster-coco-eval (torchvision is unavailable). Taking
    detections computed once lets bootstrap resamples of the images reuse them."""
    from faster_coco_eval import COCO, COCOeval_faster

    from semadv.zoo.nets_detect import DET_CLASSES

    gt_b, gt_c = detection_targets(boxes, classes)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    res: list[dict[str, Any]] = []
    for k, o in enumerate(dets):
        for bx, s, c in zip(o["boxes"].tolist(), o["scores"].tolist(), o["classes"].tolist(), strict=True):
            res.append(
                {
                    "image_id": k + 1,
                    "category_id": int(c) + 1,
                    "score": float(s),
                    "bbox": [bx[0], bx[1], bx[2] - bx[0], bx[3] - bx[1]],
                }
            )
    for k in range(len(dets)):
        images.append({"id": k + 1, "width": W, "height": H})
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
    if not res:
        return {"map50": 0.0, "map": 0.0, "recall": 0.0}
    ev = COCOeval_faster(gt, gt.loadRes(res), "bbox", print_function=lambda *a, **k: None)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return {"map50": float(ev.stats[1]), "map": float(ev.stats[0]), "recall": float(ev.stats[8])}


def detection_metrics(
    model: nn.Module, x: torch.Tensor, boxes: torch.Tensor, classes: torch.Tensor, batch: int = 64
) -> dict[str, float]:
    """COCO mAP@0.5, mAP@[.5:.95] and recall (AR@100) of ``model`` on images ``x``."""
    return coco_metrics(detections(model, x, batch), boxes, classes, x.shape[-2], x.shape[-1])


def train_detector(
    model: nn.Module,
    images: torch.Tensor,
    boxes: list[torch.Tensor],
    classes: list[torch.Tensor],
    epochs: int,
    seed: int,
    lr: float = 2e-3,
) -> None:
    """Train (or fine-tune) a zoo detector on images with per-image boxes/classes, random horizontal flips."""
    g = torch.Generator().manual_seed(seed)
    W = images.shape[-1]

    def loss_of(perm_idx: torch.Tensor) -> torch.Tensor:
        idx = perm_idx.tolist()
        flip = (torch.rand(len(idx), generator=g) < 0.5).tolist()
        xb = torch.stack([images[k].flip(-1) if f else images[k] for k, f in zip(idx, flip, strict=True)])
        bb = [
            torch.stack([W - boxes[k][:, 2], boxes[k][:, 1], W - boxes[k][:, 0], boxes[k][:, 3]], 1) if f else boxes[k]
            for k, f in zip(idx, flip, strict=True)
        ]
        return model.loss(model(xb), bb, [classes[k] for k in idx])  # type: ignore[operator]

    model.train()
    optimize(model.parameters(), loss_of, len(boxes), epochs, 32, g, lr, weight_decay=1e-4, one_cycle=True)
    model.eval()


def _fit_detector(epochs: int, lr: float = 2e-3) -> Callable[[nn.Module, int], dict[str, Any]]:
    def fit(model: nn.Module, seed: int) -> dict[str, Any]:
        tr = generate("streets", "train", seed=0, n=N_TRAIN)
        te = generate("streets", "test", seed=0, n=N_TEST)
        gb, gc = detection_targets(tr["boxes"], tr["box_classes"])
        train_detector(model, tr["image"], gb, gc, epochs, seed, lr)
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


# ----- layout-conditioned generator (SPADE-lite) -------------------------------------------------------
SPADE_TRAIN = 1200


def _perceptual_net() -> nn.Module:
    """World-trained feature network for the perceptual term and Fréchet distances (VGG is unavailable):
    the first two stages of the independent street judge."""
    from semadv.zoo.registry import load

    judge = load("streets-judge")
    return judge.features  # type: ignore[return-value]


def _fit_spade(model: nn.Module, seed: int) -> dict[str, Any]:
    """Seed 004 Eq. (3) without the attack term (the vanilla generator): hinge GAN loss with two-scale
    discriminators, feature matching (λ0 = 10), perceptual loss on world-trained features (λ1 = 10), KL on
    the style encoder (λ2 = 0.05), plus an L1 reconstruction term (λ = 10; a deviation that makes the
    short CPU schedule converge)."""
    from semadv.zoo.nets_spade import SpadeModel

    if not isinstance(model, SpadeModel):
        raise TypeError(f"expected a SpadeModel; got {type(model).__name__}")
    train_spade(model, seed, epochs=4)
    return _spade_metrics(model, 200, 0)


def dice_loss(logits: torch.Tensor, labels: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft multi-class Dice loss (Sudre et al. 2017) per image, (B,): 1 − mean over classes of
    (2Σ p·y + s) / (Σ p + Σ y + s), with p = softmax(logits) and y the one-hot labels."""
    p = logits.softmax(1)
    y = F.one_hot(labels.long(), logits.shape[1]).permute(0, 3, 1, 2).to(p)
    inter = (p * y).sum((2, 3))
    dice = (2 * inter + smooth) / (p.sum((2, 3)) + y.sum((2, 3)) + smooth)
    return 1 - dice.mean(1)


def attack_loss(segmenter: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Seed 004 Eq. (1), untargeted: L_ATK = −log f(S(G(z|y)), y) with f the Dice loss (mean over the batch)."""
    return -torch.log(dice_loss(segmenter(images), labels).clamp_min(1e-6)).mean()


def generator_terms(
    D: nn.Module,
    perc: nn.Module,
    fake: torch.Tensor,
    real: torch.Tensor,
    layout: torch.Tensor,
    labels: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    target: nn.Module | None = None,
    d_real: list[list[torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """The generator-side terms of seed 004 Eq. (3): GAN (hinge), feature matching, perceptual (world
    features), KL of the style encoder, L1 reconstruction, and the attack term L_ATK (0 without a target).
    ``d_real``: the discriminator's features of the real images if already computed."""
    d_fake = D(fake, layout)
    d_real = D(real, layout) if d_real is None else d_real
    return {
        "gan": sum(-f[-1].mean() for f in d_fake),  # type: ignore[dict-item]
        "fm": sum(  # type: ignore[dict-item]
            F.l1_loss(ff, rf.detach())
            for f, r in zip(d_fake, d_real, strict=True)
            for ff, rf in zip(f[:-1], r[:-1], strict=True)
        ),
        "perceptual": F.l1_loss(perc(fake), perc(real).detach()),
        "kl": (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean(),
        "l1": F.l1_loss(fake, real),
        "attack": attack_loss(target, fake, labels) if target is not None else torch.zeros(()),
    }


def spade_objective(terms: dict[str, torch.Tensor], lam: dict[str, float], lam_atk: float) -> torch.Tensor:
    """Eq. (3): L_GAN + λ0 L_FM + λ1 L_perc + λ2 L_KL + λ_L1 L_1 + λ3 L_ATK."""
    return (
        terms["gan"]
        + lam["fm"] * terms["fm"]
        + lam["perceptual"] * terms["perceptual"]
        + lam["kl"] * terms["kl"]
        + lam["l1"] * terms["l1"]
        + lam_atk * terms["attack"]
    )


def train_spade(
    model: nn.Module,
    seed: int,
    epochs: int,
    target: nn.Module | None = None,
    lam_atk: float = 10.0,
    n: int | None = None,
    history: list[dict[str, float]] | None = None,
    weights: dict[str, float] | None = None,
) -> None:
    """Train a :class:`~semadv.zoo.nets_spade.SpadeModel` on Eq. (3) of seed 004: hinge GAN loss (two-scale
    discriminators), feature matching λ0, world-feature perceptual loss λ1, KL λ2, L1 reconstruction, and —
    with a frozen ``target`` segmenter — the attack term λ3·L_ATK (AdvSPADE). ``weights`` overrides the λs
    (keys ``fm``, ``perceptual``, ``kl``, ``l1``) so that each term can be switched off."""
    from semadv.zoo.nets_spade import SpadeGenerator

    lam = {"fm": 10.0, "perceptual": 10.0, "kl": 0.05, "l1": 10.0, **(weights or {})}
    tr = generate("streets", "train", seed=0, n=SPADE_TRAIN)
    m = n or SPADE_TRAIN
    x, lab = tr["image"][:m], tr["labels"][:m]
    perc = _perceptual_net()
    G: Any = model.generator
    D: Any = model.discriminator
    g = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.9))
    model.train()
    if target is not None:
        target.eval()

    def step(idx: torch.Tensor) -> torch.Tensor:
        """One discriminator update, then the generator's loss (stepped by ``optimize``)."""
        real, layout = x[idx], SpadeGenerator.one_hot(lab[idx])
        z, mu, logvar = G.sample_style(real, len(idx), g)
        fake = G(layout, z)
        # discriminator: hinge loss
        d_fake = D(fake.detach(), layout)
        d_real = D(real, layout)
        loss_d = torch.stack(
            [F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(d_real, d_fake, strict=True)]
        ).sum()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        terms = generator_terms(D, perc, fake, real, layout, lab[idx], mu, logvar, target, d_real)
        if history is not None:
            history.append({k: float(v) for k, v in terms.items()})
        return spade_objective(terms, lam, lam_atk)

    optimize(G.parameters(), step, len(x), epochs, 16, g, 2e-3, betas=(0.0, 0.9))


def pooled_features(images: torch.Tensor) -> torch.Tensor:
    """Globally pooled world-trained features (street judge), (N, d)."""
    with torch.no_grad():
        return _perceptual_net()(images).mean((2, 3))


def _spade_metrics(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    from semadv.zoo.nets_spade import SpadeModel
    from semadv.zoo.registry import load

    if not isinstance(model, SpadeModel):
        raise TypeError(f"expected a SpadeModel; got {type(model).__name__}")
    te = generate("streets", "test", seed=0, n=N_TEST)
    idx = torch.randperm(N_TEST, generator=torch.Generator().manual_seed(seed))[: min(n, N_TEST)]
    real, lab = te["image"][idx], te["labels"][idx]
    model.eval()
    with torch.no_grad():
        z, _, _ = model.generator.sample_style(None, len(idx), torch.Generator().manual_seed(seed + 1))
        fake = model(lab, z)
    out = {"fid_world_features": frechet_distance(pooled_features(fake), pooled_features(real))}
    for seg in ("streets-drn", "streets-unet"):
        try:
            out[f"miou_{seg}"] = miou(load(seg), fake, lab)["miou"]
        except RegistryError:  # a segmenter without weights yet is reported as missing
            out[f"miou_{seg}"] = float("nan")
    return out


def _spade() -> None:
    from semadv.zoo.nets_spade import SpadeModel

    register_model(
        ZooEntry(
            name="streets-spade",
            description="SPADE-lite layout-conditioned generator + style encoder + 2-scale discriminator (seed 004)",
            build=SpadeModel,
            fit=_fit_spade,
            evaluate=_spade_metrics,
            data=f"streets world, train split seed 0 (first {SPADE_TRAIN} scenes: layouts and images)",
            quick_metric="miou_streets-drn",
            tolerance=0.08,
        )
    )


_spade()


# ----- AdvSPADE: the layout-conditioned generator fine-tuned to break a segmenter (seed 004) -----------
ADVSPADE_EPOCHS = 4
ADVSPADE_TARGET = "streets-drn"


def fit_advspade(
    generator: nn.Module, seed: int, target: nn.Module | None = None, epochs: int = ADVSPADE_EPOCHS
) -> dict[str, Any]:
    """Fine-tune the zoo's vanilla SPADE-lite (generator, encoder and discriminators) on the full Eq. (3)
    with λ3 = 10 against the frozen ``target`` segmenter (default ``streets-drn``); copies the result into
    ``generator`` (a :class:`~semadv.zoo.nets_spade.SpadeGenerator`)."""
    from semadv.zoo.nets_spade import SpadeModel
    from semadv.zoo.registry import load

    model = SpadeModel()
    model.load_state_dict(load("streets-spade").state_dict())
    model.requires_grad_(True)
    train_spade(model, seed, epochs, target=target if target is not None else load(ADVSPADE_TARGET), lam_atk=10.0)
    generator.load_state_dict(model.generator.state_dict())
    return _advspade_metrics(generator, 200, 0)


def _advspade_metrics(generator: Any, n: int, seed: int) -> dict[str, float]:
    """mIoU of the target and of the other segmenters on adversarial images of test layouts (random styles),
    and the attack success rate at θ = 0.95."""
    from semadv.goals.segmentation import misclassified_ratio
    from semadv.zoo.registry import load

    te = generate("streets", "test", seed=0, n=N_TEST)
    idx = torch.randperm(N_TEST, generator=torch.Generator().manual_seed(seed))[: min(n, N_TEST)]
    lab = te["labels"][idx]
    generator.eval()
    with torch.no_grad():
        z = torch.randn(len(idx), generator.zdim, generator=torch.Generator().manual_seed(seed + 1))  # type: ignore[arg-type]
        fake = generator(F.one_hot(lab, len(CLASSES)).permute(0, 3, 1, 2).float(), z)
        target = load(ADVSPADE_TARGET)
        ratio = torch.cat(
            [misclassified_ratio(target(fake[i : i + 64]), lab[i : i + 64]) for i in range(0, len(lab), 64)]
        )
    out = {f"miou_{s}": miou(load(s), fake, lab)["miou"] for s in ("streets-drn", "streets-unet", "streets-judge")}
    out["success_rate_theta_0.95"] = float((ratio > 0.95).float().mean())
    out["mean_misclassified_ratio"] = float(ratio.mean())
    return out


def _advspade() -> None:
    from semadv.zoo.nets_spade import SpadeGenerator

    register_model(
        ZooEntry(
            name="streets-advspade",
            description=f"AdvSPADE (seed 004): SPADE-lite generator fine-tuned with λ3 = 10 against {ADVSPADE_TARGET}",
            build=SpadeGenerator,
            fit=fit_advspade,
            evaluate=_advspade_metrics,
            data=f"streets world, train split seed 0 (first {SPADE_TRAIN} scenes), from the streets-spade weights",
            quick_metric="miou_streets-drn",
            tolerance=0.1,
            half=True,
        )
    )


_advspade()
