"""Seed 004 — AdvSPADE: a generator trained to emit examples that break a segmenter, as a composition.

The search happens at training time (``semadv zoo train streets-advspade``: the zoo's SPADE-lite fine-tuned
on Eq. 3 with λ3·L_ATK, L_ATK = −log Dice(S(G(z|y)), y) against the frozen ``streets-drn``); afterwards one
forward pass per (layout, style) gives an adversarial example: :class:`~semadv.spaces.GeneratorSpace` +
:class:`~semadv.goals.SegmentationGoal` + random search over styles. The layout is the ground truth, so
success is "the misclassified-pixel ratio w.r.t. the layout exceeds θ" (§4).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from semadv.attack import Attack
from semadv.experiments import advspade as _claims
from semadv.goals import SegmentationGoal, misclassified_ratio
from semadv.recipes.base import Progress, Recipe, RecipeConfig, register_recipe, zoo_model
from semadv.runner import chunks, evaluate
from semadv.search import FGSM, PGD, RandomSearch
from semadv.spaces import GeneratorSpace, PixelSpace
from semadv.stats import frechet_distance
from semadv.worlds.datasets import generate
from semadv.worlds.streets import CLASSES

SEGMENTERS = ("streets-drn", "streets-unet", "streets-judge")
TARGET = "streets-drn"


class AdvSpadeConfig(RecipeConfig):
    layouts: int = Field(200, ge=2, description="test layouts evaluated")
    styles: int = Field(2, ge=1, description="random styles per layout")
    theta: float = Field(0.95, ge=0, lt=1)
    theta_sweep: list[float] = Field(default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    bounds: list[float] = Field(default_factory=lambda: [0.25, 1.0, 8.0, 32.0], description="L∞ bounds ×1/255")
    style_search: int = Field(8, ge=1, description="random styles tried per layout by the one-step attack")
    robust_scenes: int = Field(600, ge=16)
    robust_epochs: int = Field(3, ge=1)
    robust_eps: float = Field(8.0, gt=0, description="×1/255")
    robust_steps: int = Field(10, ge=1)
    advspade_epochs: int = Field(2, ge=1, description="AdvSPADE fine-tuning against the robust segmenters")
    batch: int = Field(50, ge=1)
    layout_agreement: float = Field(0.8, gt=0, lt=1, description="layout oracle: pixel agreement to call it kept")


_m = zoo_model


def _onehot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels.long(), len(CLASSES)).permute(0, 3, 1, 2).float()


def _test(cfg: AdvSpadeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    te = generate("streets", "test", seed=0, n=300)
    n = min(cfg.layouts, 300)
    return te["image"][:n], te["labels"][:n]


@torch.no_grad()
def generate_images(generator: Any, labels: torch.Tensor, styles: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``styles`` random styles z ~ N(0, I) per layout, one forward pass each: (images, repeated labels)."""
    g = torch.Generator().manual_seed(seed)
    lab = labels.repeat(styles, 1, 1)
    z = torch.randn(len(lab), generator.zdim, generator=g)
    return torch.cat([generator(_onehot(lab[s]), z[s]) for s in chunks(len(lab), 64)]), lab


@torch.no_grad()
def _seg_stats(model: nn.Module, x: torch.Tensor, lab: torch.Tensor, thetas: list[float]) -> dict[str, Any]:
    from semadv.zoo.streets import miou

    ratio = torch.cat([misclassified_ratio(model(x[s]), lab[s]) for s in chunks(len(x), 64)])
    return {
        "miou": miou(model, x, lab)["miou"],
        "success": {f"{t:g}": float((ratio > t).float().mean()) for t in thetas},
        "mean_misclassified": float(ratio.mean()),
    }


def _pooled(x: torch.Tensor) -> torch.Tensor:
    from semadv.zoo.streets import pooled_features

    return torch.cat([pooled_features(x[s]) for s in chunks(len(x), 64)])


def _validity(
    adv: torch.Tensor,
    lab: torch.Tensor,
    thetas: list[float],
    agreement: float,
    real: torch.Tensor,
    real_lab: torch.Tensor,
) -> dict[str, Any]:
    """Layout oracle (:func:`semadv.oracles.layout_kept`, the independent judge's labels vs the layout) on all
    AdvSPADE images and on the successful ones at each θ: a success counts as *valid* when the layout is kept.
    The oracle's own error: the fraction of real world renders it calls "layout not kept"."""
    from semadv.experiments._common import rate
    from semadv.oracles import layout_kept

    with torch.no_grad():
        ratio = torch.cat([misclassified_ratio(_m(TARGET)(adv[s]), lab[s]) for s in chunks(len(adv), 64)])
    kept = torch.cat([layout_kept(adv[s], lab[s], min_agreement=agreement) for s in chunks(len(adv), 64)])
    real_kept = torch.cat([layout_kept(real[s], real_lab[s], min_agreement=agreement) for s in chunks(len(real), 64)])
    out: dict[str, Any] = {
        "min_agreement": agreement,
        "kept_all": rate(kept.tolist()),
        "oracle_false_reject_on_renders": rate((~real_kept).tolist()),
        "per_theta": {},
    }
    for t in thetas:
        ok = ratio > t
        out["per_theta"][f"{t:g}"] = {
            "success": int(ok.sum()),
            "valid": int((ok & kept).sum()),
            "valid_success_rate": rate((ok & kept).tolist()),
        }
    return out


# ----- experiments ------------------------------------------------------------------------------------------
def exp_evaluate(cfg: AdvSpadeConfig, out: Path, log: Progress) -> dict[str, Any]:
    """Tables 1–2 and the success rates: mIoU of every segmenter on real / vanilla / adversarial images
    (white-box for the target, transfer for the others), Fréchet distances to real scenes, success at θ,
    semantic consistency (the independent judge's agreement with the layout), one-step throughput, and the
    one-step attack as an engine Attack with random search over styles."""
    from semadv.worlds.grid import save_grid

    real, lab = _test(cfg)
    thetas = sorted({*cfg.theta_sweep, cfg.theta})
    van, lab2 = generate_images(_m("streets-spade").generator, lab, cfg.styles, cfg.seed)
    import time

    t0 = time.perf_counter()
    adv, _ = generate_images(_m("streets-advspade"), lab, cfg.styles, cfg.seed)
    per_image = (time.perf_counter() - t0) / len(adv)
    sets = {"real": (real, lab), "vanilla SPADE": (van, lab2), "AdvSPADE": (adv, lab2)}
    res: dict[str, Any] = {"layouts": len(lab), "styles": cfg.styles, "thetas": thetas, "table": {}}
    for sname, (x, y) in sets.items():
        res["table"][sname] = {m: _seg_stats(_m(m), x, y, thetas) for m in SEGMENTERS}
        log(f"  {sname:14s} mIoU " + ", ".join(f"{m} {v['miou']:.3f}" for m, v in res["table"][sname].items()))
    f_real = _pooled(real)
    res["frechet"] = {k: frechet_distance(_pooled(x), f_real) for k, (x, _) in sets.items() if k != "real"}
    res["seconds_per_adversarial_image"] = per_image
    # the one-step attack through the engine: the best of ``style_search`` random styles per layout
    space = GeneratorSpace(lambda labels, z: _m("streets-advspade")(_onehot(labels), z), _m("streets-advspade").zdim)
    attack = Attack(SegmentationGoal(cfg.theta), space, RandomSearch(samples=cfg.style_search))
    g = torch.Generator().manual_seed(cfg.seed)
    succ = evaluate(attack, _m(TARGET), (lab, lab), batch=cfg.batch, generator=g).success
    res["style_search_success"] = float(succ.float().mean())
    res["validity"] = _validity(adv, lab2, thetas, cfg.layout_agreement, real, lab)
    log(f"  layout oracle: {res['validity']['kept_all']['rate']:.3f} of AdvSPADE images keep the layout")
    log(f"  one-step attack, best of {cfg.style_search} styles: success {res['style_search_success']:.3f}")
    # grid: layout, real, vanilla, adversarial, target prediction on the adversarial
    k = min(6, len(lab))
    with torch.no_grad():
        pred = _m(TARGET)(adv[:k]).argmax(1)
    imgs = torch.stack([real[:k], van[:k], adv[:k]], 1).flatten(0, 1)
    maps = torch.stack([lab[:k], lab[:k], pred], 1).flatten(0, 1)
    save_grid(imgs, out / "advspade_grid.png", ncol=3, scale=2, label_maps=maps)
    return res


def _pgd_iterations(bound: float) -> int:
    """Seed 004 §5.3: min(ε + 4, ⌈1.25·ε⌉) iterations for an L∞ bound of ε/255."""
    return max(1, int(min(bound + 4, math.ceil(1.25 * bound))))


def norm_bounded(
    model: nn.Module, x: torch.Tensor, lab: torch.Tensor, bound: float, search: str, cfg: AdvSpadeConfig
) -> torch.Tensor:
    """FGSM or PGD (engine searches, step 1/255 for PGD) at L∞ bound/255 on a segmenter; returns x_adv."""
    s = FGSM() if search == "FGSM" else PGD(_pgd_iterations(bound), alpha=1 / 255)
    attack = Attack(SegmentationGoal(cfg.theta), PixelSpace(bound / 255), s)
    g = torch.Generator().manual_seed(cfg.seed)
    return evaluate(attack, model, (x, lab), batch=cfg.batch, generator=g).x_adv


def exp_baselines(cfg: AdvSpadeConfig, out: Path, log: Progress) -> dict[str, Any]:
    """Tables 3–4: FGSM and PGD on real and vanilla-generated images at each L∞ bound."""
    real, lab = _test(cfg)
    van, _ = generate_images(_m("streets-spade").generator, lab, 1, cfg.seed)
    thetas = sorted({*cfg.theta_sweep, cfg.theta})
    res: dict[str, Any] = {"layouts": len(lab), "bounds": cfg.bounds, "rows": []}
    for source, x in (("real", real), ("vanilla SPADE", van)):
        for search in ("FGSM", "PGD"):
            for b in cfg.bounds:
                xa = norm_bounded(_m(TARGET), x, lab, b, search, cfg)
                st = _seg_stats(_m(TARGET), xa, lab, thetas)
                res["rows"].append(
                    {
                        "source": source,
                        "attack": search,
                        "bound": b,
                        "iterations": 1 if search == "FGSM" else _pgd_iterations(b),
                        **st,
                    }
                )
                log(
                    f"  {source:14s} {search} ε={b:g}/255: mIoU {st['miou']:.3f}, "
                    f"success@{cfg.theta:g} {st['success'][f'{cfg.theta:g}']:.3f}"
                )
    return res


def _finetune_segmenter(cfg: AdvSpadeConfig, base: nn.Module, batch_fn: Any) -> nn.Module:
    """Fine-tune a copy of ``base`` on ``batch_fn(model, idx) → (images, labels)`` (adversarial training)."""
    import copy

    from semadv.training import optimize

    model = copy.deepcopy(base).requires_grad_(True)
    g = torch.Generator().manual_seed(cfg.seed)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        x, y = batch_fn(model, idx)
        model.train()
        return F.cross_entropy(model(x), y)

    optimize(model.parameters(), loss_of, cfg.robust_scenes, cfg.robust_epochs, 16, g, 5e-4)
    return model.eval().requires_grad_(False)


def exp_robust(cfg: AdvSpadeConfig, out: Path, log: Progress) -> dict[str, Any]:
    """§5.4: (a) PGD adversarial training of the target (ε = 8/255, 10 iterations, step 1/255), then PGD and a
    freshly fine-tuned AdvSPADE against it; (b) the target fine-tuned on AdvSPADE examples (Alg. 1's
    compromise: real scenes + adversarial images of their layouts), then PGD and AdvSPADE against it."""
    from semadv.zoo.nets_spade import SpadeGenerator
    from semadv.zoo.streets import fit_advspade

    tr = generate("streets", "train", seed=0, n=cfg.robust_scenes)
    xtr, ytr = tr["image"], tr["labels"]
    base = _m(TARGET)
    eps = cfg.robust_eps / 255
    pgd_train = Attack(
        SegmentationGoal(cfg.theta),
        PixelSpace(eps),
        PGD(cfg.robust_steps, alpha=1 / 255, early_stop=False),
        checks=False,  # inside the training loop: the sanity checks would cost 2 extra passes per batch
    )
    gen = torch.Generator().manual_seed(cfg.seed + 1)

    def pgd_batch(model: nn.Module, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model.eval()
        xa = pgd_train(model, xtr[idx], ytr[idx], generator=gen).x_adv
        half = len(idx) // 2  # 50/50 clean and adversarial
        return torch.cat([xtr[idx[:half]], xa[half:]]), ytr[idx]

    adv_g = _m("streets-advspade")

    def spade_batch(model: nn.Module, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            xa = adv_g(_onehot(ytr[idx]), torch.randn(len(idx), adv_g.zdim, generator=gen))
        half = len(idx) // 2
        return torch.cat([xtr[idx[:half]], xa[half:]]), ytr[idx]

    real, lab = _test(cfg)
    thetas = sorted({*cfg.theta_sweep, cfg.theta})
    res: dict[str, Any] = {"scenes": cfg.robust_scenes, "epochs": cfg.robust_epochs, "rows": []}
    for name, fn in (("PGD adversarial training", pgd_batch), ("trained with AdvSPADE examples", spade_batch)):
        model = _finetune_segmenter(cfg, base, fn)
        row: dict[str, Any] = {"segmenter": name, "clean": _seg_stats(model, real, lab, thetas)}
        row["PGD 8/255"] = _seg_stats(model, norm_bounded(model, real, lab, 8.0, "PGD", cfg), lab, thetas)
        g2 = SpadeGenerator()
        fit_advspade(g2, cfg.seed, target=model, epochs=cfg.advspade_epochs)
        adv, lab2 = generate_images(g2.eval(), lab, 1, cfg.seed)
        row["AdvSPADE (re-trained against it)"] = _seg_stats(model, adv, lab2, thetas)
        adv0, _ = generate_images(adv_g, lab, 1, cfg.seed)
        row["AdvSPADE (zoo, vs original target)"] = _seg_stats(model, adv0, lab2, thetas)
        res["rows"].append(row)
        log(
            f"  {name}: clean mIoU {row['clean']['miou']:.3f}, PGD mIoU {row['PGD 8/255']['miou']:.3f}, "
            f"AdvSPADE mIoU {row['AdvSPADE (re-trained against it)']['miou']:.3f}"
        )
    base_row: dict[str, Any] = {"segmenter": "original target", "clean": _seg_stats(base, real, lab, thetas)}
    base_row["PGD 8/255"] = _seg_stats(base, norm_bounded(base, real, lab, 8.0, "PGD", cfg), lab, thetas)
    adv0, lab2 = generate_images(adv_g, lab, 1, cfg.seed)
    base_row["AdvSPADE (zoo, vs original target)"] = _seg_stats(base, adv0, lab2, thetas)
    res["rows"].insert(0, base_row)
    return res


# ----- page -----------------------------------------------------------------------------------------------
def page(results: dict[str, dict[str, Any]], d: Path, prefix: str) -> str:
    from semadv.report.figures import line_chart
    from semadv.zoo import card

    L = [
        "# AdvSPADE: a generator trained to break a segmenter (seed 004)",
        "",
        "Generated by `semadv run configs/recipes/advspade.toml --out docs/results/advspade`. The generator is "
        f"the zoo model `streets-advspade` (`{card('streets-advspade').reproduce}`, "
        f"{card('streets-advspade').train_seconds} s on this machine): the vanilla SPADE-lite fine-tuned on Eq. 3 "
        f"with λ3 = 10 against `{TARGET}` (Dice attack loss). Success = misclassified-pixel ratio w.r.t. the "
        "layout > θ.",
        "",
    ]
    if "evaluate" in results:
        r = results["evaluate"]
        th = f"{r['config']['theta']:g}"
        L += [
            "## mIoU on real, vanilla-generated and adversarially generated images (Table 1 analogue)",
            "",
            f"{r['layouts']} test layouts × {r['styles']} random styles; `{TARGET}` is white-box, the others transfer; "
            "`streets-judge` is also the semantic-consistency check (its agreement with the layout on adversarial "
            "images).",
            "",
            "| images | " + " | ".join(f"mIoU {m}" for m in SEGMENTERS) + f" | success@{th} ({TARGET}) |",
            "|---|" + "---|" * (len(SEGMENTERS) + 1),
        ]
        for k, v in r["table"].items():
            L.append(
                f"| {k} | "
                + " | ".join(f"{v[m]['miou']:.3f}" for m in SEGMENTERS)
                + f" | {v[TARGET]['success'][th]:.3f} |"
            )
        L += [
            "",
            "## Fréchet distance to real scenes (Table 2 analogue; pooled street-judge features)",
            "",
            "| images | Fréchet distance |",
            "|---|---|",
            *[f"| {k} | {v:.4f} |" for k, v in r["frechet"].items()],
            "",
            f"One-step generation: {1000 * r['seconds_per_adversarial_image']:.2f} ms per adversarial image. "
            "As an engine "
            f"attack (GeneratorSpace + SegmentationGoal + random search over {r['config']['style_search']} styles): "
            f"success@{th} {r['style_search_success']:.3f}.",
            "",
        ]
        series = {
            k: (r["thetas"], [v[TARGET]["success"][f"{t:g}"] for t in r["thetas"]]) for k, v in r["table"].items()
        }
        (d / "advspade_theta.svg").write_text(line_chart(series, "θ", f"success rate ({TARGET})"))
        L += [
            f"![success vs θ]({prefix}/advspade_theta.svg)",
            "",
            f"![grid]({prefix}/advspade_grid.png)",
            "",
            "Columns: real (with its layout), vanilla SPADE (layout), AdvSPADE (the target's prediction).",
            "",
        ]
    if "baselines" in results:
        r = results["baselines"]
        th = f"{r['config']['theta']:g}"
        L += [
            "## Norm-bounded baselines (Tables 3–4 analogues)",
            "",
            f"Against `{TARGET}` on {r['layouts']} real and vanilla-generated images; "
            "PGD iterations min(ε + 4, ⌈1.25ε⌉), "
            "step 1/255 (engine FGSM and PGD).",
            "",
            f"| images | attack | L∞ bound | iterations | mIoU | success@{th} |",
            "|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            L.append(
                f"| {row['source']} | {row['attack']} | {row['bound']:g}/255 | {row['iterations']} | "
                f"{row['miou']:.3f} | {row['success'][th]:.3f} |"
            )
        if "evaluate" in results:
            e = results["evaluate"]["table"]["AdvSPADE"][TARGET]
            L += [
                "",
                f"AdvSPADE (unbounded, one forward pass): mIoU {e['miou']:.3f}, success@{th} {e['success'][th]:.3f}.",
            ]
        L.append("")
    if "robust" in results:
        r = results["robust"]
        th = f"{r['config']['theta']:g}"
        cols = [k for k in r["rows"][-1] if k != "segmenter"]
        L += [
            "## Robust segmenters (§5.4)",
            "",
            f"Fine-tuned from `{TARGET}` for {r['epochs']} epochs on {r['scenes']} scenes (50% adversarial per batch). "
            "Cells: mIoU / success@θ.",
            "",
            "| segmenter | " + " | ".join(cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for row in r["rows"]:
            L.append(
                f"| {row['segmenter']} | "
                + " | ".join(f"{row[c]['miou']:.3f} / {row[c]['success'][th]:.3f}" if c in row else "–" for c in cols)
                + " |"
            )
        L.append("")
    return "\n".join(L)


register_recipe(
    Recipe(
        name="advspade",
        config=AdvSpadeConfig,
        experiments={"evaluate": exp_evaluate, "baselines": exp_baselines, "robust": exp_robust},
        page=page,
        page_name="advspade.md",
        claims=_claims.CLAIMS,
    )
)
