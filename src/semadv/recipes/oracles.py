"""Oracle audit: how often each validity verdict of :mod:`semadv.oracles` is wrong, on world renders and
on the zoo generators' outputs (issue 18). Run by ``semadv run configs/recipes/oracles.toml``.

Experiments:

* ``inversion`` — held-out world pairs (same identity, independent attributes / different identities):
  per-parameter error of the regressor alone and after refinement, pair agreement of ``identity_kept``.
* ``generated`` — images whose identity is known although a generator made them: the attribute editor's
  ``G(x, c_new)`` of a world face ``x`` and the style generator's reconstruction ``G(μ(x))``. Rates of "same
  person" by the oracle, by ``face-judge`` and by the embedders at their FPR-10⁻³ thresholds, on same and
  different pairs — is each judge as valid on generated faces as on renders?
* ``digits`` — ``class_changed`` rests on ``digits-judge``: its accuracy on real digits and on the CVAE's
  class-conditional samples.
* ``streets`` — ``layout_kept`` on world renders (layout = the world's labels) and on vanilla SPADE outputs
  conditioned on those layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from semadv.experiments import oracles as _claims
from semadv.experiments._common import rate
from semadv.oracles import FaceInverter, identity_distance, inversion_errors, layout_kept
from semadv.recipes.base import Progress, Recipe, RecipeConfig, md_table, register_recipe, zoo_model
from semadv.runner import chunks
from semadv.zoo.oracles import AUDIT_IDS, pair_scenes, render

EMBEDDERS = ("face-judge", "face-r1-softmax", "face-r2-softmax", "face-r1-arcface", "face-r2-arcface")


class OraclesConfig(RecipeConfig):
    pairs: int = Field(150, ge=10, description="identities per pair set (same and different pairs each)")
    refine_steps: int = Field(60, ge=0)
    digits: int = Field(449, ge=10)
    scenes: int = Field(200, ge=10)
    min_agreement: float = Field(0.8, gt=0, lt=1)


def _threshold(name: str) -> float:
    from semadv.zoo import card

    return float(card(name).metrics["threshold_fpr_0.001"])


def _same_rates(a: torch.Tensor, b: torch.Tensor, inv_a: Any, inv_b: Any, thr: float) -> dict[str, Any]:
    """Rates of 'same person' for pairs (a[i], b[i]) by the oracle and each embedder."""
    out: dict[str, Any] = {"oracle": rate((identity_distance(inv_a, inv_b) <= thr).tolist())}
    for name in EMBEDDERS:
        m = zoo_model(name)
        with torch.no_grad():
            d = torch.cat(
                [(F.normalize(m(a[s]), dim=1) - F.normalize(m(b[s]), dim=1)).norm(dim=1) for s in chunks(len(a), 256)]
            )
        out[name] = rate((d <= _threshold(name)).tolist())
    return out


def exp_inversion(cfg: OraclesConfig, out: Path, log: Progress) -> dict[str, Any]:
    from semadv.zoo import card

    a, b = pair_scenes(AUDIT_IDS, cfg.pairs, cfg.seed)
    xa, xb = render(a), render(b)
    res: dict[str, Any] = {"pairs": cfg.pairs, "threshold": card("face-inverse").metrics["identity_threshold"]}
    for tag, steps in (("regressor", 0), ("refined", cfg.refine_steps)):
        inv = FaceInverter(steps=steps)
        ia, ib = inv(xa), inv(xb)
        same, diff = identity_distance(ia, ib), identity_distance(ia, ib.roll(1))
        thr = float(res["threshold"])
        res[tag] = {
            "per_parameter_mae": inversion_errors(ia, a),
            "residual": float(ia.residual.mean()),
            "same_distance_quantiles": torch.quantile(same, torch.tensor([0.5, 0.9, 0.99])).tolist(),
            "diff_distance_quantiles": torch.quantile(diff, torch.tensor([0.01, 0.1, 0.5])).tolist(),
            "false_non_match": rate((same > thr).tolist()),
            "false_match": rate((diff <= thr).tolist()),
            "agreement": rate(torch.cat([same <= thr, diff > thr]).tolist()),
        }
        log(f"  {tag}: agreement {res[tag]['agreement']['rate']:.3f}, residual {res[tag]['residual']:.4f}")
    return res


def exp_generated(cfg: OraclesConfig, out: Path, log: Progress) -> dict[str, Any]:
    from semadv.recipes.semanticadv import ATTRS
    from semadv.worlds.grid import save_grid
    from semadv.zoo import card
    from semadv.zoo.faces import normalized_attributes

    a, _ = pair_scenes(AUDIT_IDS + 500, cfg.pairs, cfg.seed + 1)
    x = render(a)
    n = len(x)
    g = torch.Generator().manual_seed(cfg.seed)
    c = normalized_attributes(a)
    col = torch.randint(0, len(ATTRS), (n,), generator=g)
    c_new = c.clone()
    c_new[torch.arange(n), col] = (c[torch.arange(n), col] < 0.5).float()
    editor, style = zoo_model("face-editor-hifi"), zoo_model("face-stylegen")
    with torch.no_grad():
        edited = torch.cat([editor(x[s], c_new[s]) for s in chunks(n, 128)])
        recon = torch.cat([style(style.encode(x[s])[0]) for s in chunks(n, 128)])
        samples = torch.cat([style(torch.randn(len(x[s]), style.zdim, generator=g)) for s in chunks(n, 128)])
    inv = FaceInverter(steps=cfg.refine_steps)
    i_x, i_e, i_r, i_s = inv(x), inv(edited), inv(recon), inv(samples)
    thr = float(card("face-inverse").metrics["identity_threshold"])
    sets = {
        "world renders": (x, x.roll(1, 0), i_x, i_x.roll(1), None),
        "editor G(x, c_new)": (x, edited, i_x, i_e, edited.roll(1, 0)),
        "style generator G(μ(x))": (x, recon, i_x, i_r, recon.roll(1, 0)),
    }
    res: dict[str, Any] = {"pairs": n, "oracle_threshold": thr, "sets": {}}
    for name, (src, gen, ia, ib, gen_other) in sets.items():
        row: dict[str, Any] = {"residual": float(ib.residual.mean())}
        if gen_other is None:  # world renders: same pairs are the held-out pairs of the inversion experiment
            row["different"] = _same_rates(src, gen, ia, ib, thr)
        else:
            row["same"] = _same_rates(src, gen, ia, ib, thr)
            row["different"] = _same_rates(gen, gen_other, ib, ib.roll(1), thr)
        res["sets"][name] = row
        log(
            f"  {name}: oracle same-rate "
            + ", ".join(f"{k} {v['oracle']['rate']:.3f}" for k, v in row.items() if k != "residual")
        )
    res["sets"]["style generator random samples"] = {
        "residual": float(i_s.residual.mean()),
        "different": _same_rates(samples, samples.roll(1, 0), i_s, i_s.roll(1), thr),
    }
    save_grid(
        torch.stack([x[:8], edited[:8], recon[:8], samples[:8]], 1).flatten(0, 1),
        out / "oracles_generated.png",
        ncol=4,
        scale=2,
    )
    return res


def exp_digits(cfg: OraclesConfig, out: Path, log: Progress) -> dict[str, Any]:
    from semadv.worlds.datasets import generate

    judge, cvae = zoo_model("digits-judge"), zoo_model("digits-cvae")
    d = generate("digits", "test", n=cfg.digits)
    g = torch.Generator().manual_seed(cfg.seed)
    y = torch.arange(cfg.digits) % 10
    with torch.no_grad():
        real = judge(d["image"]).argmax(1) == d["label"]
        gen = cvae.generate(torch.randn(cfg.digits, cvae.latent, generator=g), y)
        ok_gen = judge(gen).argmax(1) == y
    return {"digits": cfg.digits, "real_accuracy": rate(real.tolist()), "cvae_accuracy": rate(ok_gen.tolist())}


def exp_streets(cfg: OraclesConfig, out: Path, log: Progress) -> dict[str, Any]:
    from semadv.worlds.datasets import generate

    d = generate("streets", "test", seed=cfg.seed, n=cfg.scenes)
    from semadv.recipes.advspade import generate_images

    layout = d["labels"]
    fake, _ = generate_images(zoo_model("streets-spade").generator, layout, 1, cfg.seed)
    res: dict[str, Any] = {"scenes": cfg.scenes, "min_agreement": cfg.min_agreement}
    for name, img in (("world renders", d["image"]), ("vanilla SPADE", fake)):
        kept = layout_kept(img, layout, min_agreement=cfg.min_agreement)
        res[name] = {"kept": rate(kept.tolist())}
    return res


def _ci(r: dict[str, Any]) -> str:
    """A rate with its 95 % interval for a table cell."""
    return f"{r['rate']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"


def _page_inversion(r: dict[str, Any]) -> list[str]:
    n = r["pairs"]
    stages = ("regressor", "refined")
    return [
        "## Inversion of held-out world faces",
        "",
        f"{n} unseen identities × 2 scenes (independent attributes): {n} same and {n} different pairs. "
        f"Identity threshold {float(r['threshold']):.4f} (calibrated on other identities; card of `face-inverse`).",
        "",
        md_table(
            ["stage", "residual RMSE", "agreement [95% CI]", "false match", "false non-match"],
            [
                [
                    t,
                    f"{r[t]['residual']:.4f}",
                    _ci(r[t]["agreement"]),
                    _ci(r[t]["false_match"]),
                    _ci(r[t]["false_non_match"]),
                ]
                for t in stages
            ],
        ),
        "",
        "Per-parameter mean absolute error (normalised to each parameter's range; uniform guessing ≈ 0.33):",
        "",
        md_table(
            ["parameter", *stages],
            [[k, *(f"{r[t]['per_parameter_mae'][k]:.3f}" for t in stages)] for k in r["refined"]["per_parameter_mae"]],
        ),
        "",
    ]


def _page_generated(r: dict[str, Any], prefix: str) -> list[str]:
    judges = ["oracle", *EMBEDDERS]
    rows = [
        [name, kind, *(f"{row[kind][j]['rate']:.3f}" for j in judges)]
        for name, row in r["sets"].items()
        for kind in ("same", "different")
        if kind in row
    ]
    return [
        "## Generated faces of known identity",
        "",
        f"{r['pairs']} world faces; the editor `face-editor-hifi` changes one random attribute; the style "
        "generator `face-stylegen` reconstructs through its encoder. Cells: fraction of pairs called **the same "
        "person** (oracle: recovered identity within its threshold; embedders: distance ≤ their FPR-10⁻³ "
        "threshold). On *same* rows higher is better; on *different* rows it is a false-match rate. Random "
        "style-generator samples have no known identity; the oracle's verdict is the reference there.",
        "",
        md_table(["images", "pairs", *judges], rows),
        "",
        f"![generated]({prefix}/oracles_generated.png)",
        "",
        "Columns: world face, editor output, style-generator reconstruction, style-generator sample.",
        "",
    ]


def page(results: dict[str, dict[str, Any]], d: Path, prefix: str) -> str:
    lines = [
        "# Validity oracles: how often each verdict is wrong",
        "",
        "Generated by `semadv run configs/recipes/oracles.toml --out docs/results/oracles`. The oracles "
        "(`semadv.oracles`) invert the faces world (zoo regressor `face-inverse` + analysis-by-synthesis "
        "through the differentiable renderer) and judge identity, attributes, class and layout on any image.",
        "",
    ]
    if "inversion" in results:
        lines += _page_inversion(results["inversion"])
    if "generated" in results:
        lines += _page_generated(results["generated"], prefix)
    if "digits" in results:
        r = results["digits"]
        lines += [
            "## Digits: the class judge",
            "",
            f"`digits-judge` accuracy on {r['digits']} real test digits: {_ci(r['real_accuracy'])}; on CVAE "
            f"samples of a known class: {_ci(r['cvae_accuracy'])}.",
            "",
        ]
    if "streets" in results:
        r = results["streets"]
        kept = [[k, _ci(v["kept"])] for k, v in r.items() if isinstance(v, dict) and "kept" in v]
        lines += [
            "## Streets: layout kept",
            "",
            f"`layout_kept` = `streets-judge`'s labels agree with the conditioning layout on ≥ "
            f"{r['min_agreement']} of the pixels; {r['scenes']} test layouts.",
            "",
            md_table(["images", "layout kept [95% CI]"], kept),
            "",
        ]
    return "\n".join(lines)


register_recipe(
    Recipe(
        name="oracles",
        config=OraclesConfig,
        experiments={
            "inversion": exp_inversion,
            "generated": exp_generated,
            "digits": exp_digits,
            "streets": exp_streets,
        },
        page=page,
        page_name="oracles.md",
        claims=_claims.CLAIMS,
    )
)
