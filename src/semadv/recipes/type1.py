"""Seed 001 — Type I attacks: significant changes the victim ignores, as a thin composition.

* **Alg. 2 on the SVAE latent** (digits): victim f1 = ``digits-mlp``; attacker f2 = ``digits-svae`` (its
  latent classifier read on the image through the encoder, so the goal judges the image actually produced);
  space = :class:`~semadv.spaces.LatentSpace` over μ(x) decoded by f_dec; search =
  :class:`~semadv.search.TypeOneSearch` with the SVAE's latent terms α(1 − f_dis(z)) + γ‖z‖₂ and the adaptive
  k_t of Eq. 10; goal = :class:`~semadv.goals.KeepAndChange` (keep y for f1, reach y′ = y + 1 for f2).
  The image-transition mode (§III-B) is the same search with k ≡ 0.
* **Eq. 13 on a generator's latent**: digits — the zoo CVAE (latent [z, class logits]) against ``digits-lenet``,
  targeted through its auxiliary classifier; faces — the zoo style generator's z against ``face-r1-arcface``
  (J1 = embedding distance, kept under the embedder's FPR-10⁻³ threshold), untargeted.
* **Success**: the three conditions of §IV-B separately and jointly — victim kept; attacker changed; the
  independent judge (``digits-judge``; for faces ``face-judge`` *and* a second embedder) confirms the change.
* **Type II baselines** on the same victims: FGSM and PGD are engine searches; DeepFool, CW-L2 and EAD are
  torchattacks (the reference implementations; ``make`` installs torchattacks).
* **Feature-squeezing detection** (§IV-C, Xu et al.): digits — bit depth 1 + 2×2 median, L2 between
  predictions; faces — 3×3 and 5×5 median filters, embedding distance.
* **Strengthening** (§IV-D): vanilla adversarial training and adversarial logit pairing with Type I, FGSM and
  PGD examples (each set split 50/50 into training and held-out halves), cross-evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from semadv.attack import Attack
from semadv.constraints import LpBall
from semadv.defenses import bit_depth, median_filter
from semadv.experiments import type1 as _claims
from semadv.goals import KeepAndChange, LossGoal, Misclassification
from semadv.oracles import FaceInverter, identity_kept
from semadv.recipes.base import Progress, Recipe, RecipeConfig, register_recipe, zoo_model
from semadv.runner import chunks, evaluate
from semadv.search import FGSM, PGD, TypeOneSearch
from semadv.spaces.latent import LatentSpace
from semadv.spaces.pixel import PixelSpace
from semadv.victims import Stack
from semadv.worlds.datasets import generate

CLASS_LOGIT = 6.0  # the CVAE latent's class part: logits of a near one-hot class (softmax mass 0.98)


class Type1Config(RecipeConfig):
    digits: int = Field(449, ge=4, description="test digits attacked (the whole test split by default)")
    faces: int = Field(100, ge=4, description="generated faces attacked with Eq. 13")
    steps: int = Field(300, ge=1, description="Adam steps of Alg. 2")
    lr: float = Field(0.005, gt=0)
    alpha: float = Field(0.01, ge=0)
    gamma: float = Field(1e-4, ge=0)
    beta: float | None = Field(0.001, ge=0)
    k_lr: float = Field(0.001, ge=0, description="η of Eq. 10")
    j1_hat_ce: float = Field(0.01, ge=0)
    j1_hat_embedding: float = Field(1.0, ge=0)
    k_max: float = Field(0.005, ge=0)
    latent_steps: int = Field(300, ge=1)
    latent_lr: float = Field(0.01, gt=0)
    k_digits: float = Field(1e-2, ge=0)
    eps_digits: float = Field(0.1, gt=0)
    k_faces: float = Field(1e-3, ge=0)
    eps_faces: float = Field(0.35, gt=0)
    type2_eps: float = Field(0.15, gt=0, description="L∞ budget of FGSM/PGD on digits")
    type2_steps: int = Field(20, ge=1)
    face_type2_eps: float = Field(8 / 255, gt=0)
    clean_rates: list[float] = Field(default_factory=lambda: [0.23, 0.10, 0.05])
    train_epochs: int = Field(15, ge=1)
    alp_weight: float = Field(0.5, ge=0)
    batch: int = Field(256, ge=1)
    #: a second, CPU-tuned setting run beside the paper's defaults (on this small MLP/LeNet the paper's
    #: k ≤ 0.005 cannot hold the victim: J1 is out-weighed by J2; on faces ε = 0.35 barely moves a 64-d z,
    #: so no face changes identity); detection and strengthening use it
    tuned: dict[str, int | float] = Field(
        default_factory=lambda: {
            "steps": 1000,
            "k_max": 1.0,
            "k_lr": 0.05,
            "latent_steps": 600,
            "latent_lr": 0.05,
            "k_digits": 1.0,
            "k_faces": 0.1,
            "eps_faces": 16.0,
        }
    )

    def tuned_config(self) -> Type1Config:
        return self.model_copy(update=self.tuned)


# ----- models ------------------------------------------------------------------------------------------
_m = zoo_model


def _digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    d = generate("digits", split, n=1348 if split == "train" else 449)
    return d["image"], d["label"]


def _run(
    attack: Attack,
    victim: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    batch: int,
    seed: int,
) -> dict[str, Any]:
    """The attack over the dataset (:func:`semadv.runner.evaluate`) as a dict the experiments extend."""
    r = evaluate(attack, victim, (x, t), batch=batch, generator=torch.Generator().manual_seed(seed))
    return {k: getattr(r, k) for k in ("success", "z_adv", "z0", "x_adv", "clean_reached")}


# ----- Alg. 2: Type I on the SVAE latent ------------------------------------------------------------------
def svae_latent_terms(alpha: float, gamma: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """α(1 − f_dis(z)) + γ‖z‖₂ of Eq. 8 for the latent z = μ(x) + η (f_dis as a probability)."""
    svae = _m("digits-svae")

    def terms(eta: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        z = mu + eta
        return alpha * (1 - torch.sigmoid(svae.dis(z)[:, 0])) + gamma * z.norm(dim=1)

    return terms


def svae_type1(
    cfg: Type1Config,
    x: torch.Tensor,
    y: torch.Tensor,
    victim: nn.Module,
    transition: bool = False,
    record: bool = False,
) -> dict[str, Any]:
    """Alg. 2 against ``victim`` for digits ``x`` of class ``y`` towards y′ = y + 1 (mod 10); with
    ``transition`` the §III-B image-transition task (f2 only, k ≡ 0)."""
    svae = _m("digits-svae")
    with torch.no_grad():
        mu = svae.encode(x)[0]
    y2 = (y + 1) % 10
    space = LatentSpace(svae.decode, LpBall(1.0, 2.0)).unbounded()
    goal = KeepAndChange(10, "class")
    search = TypeOneSearch(
        cfg.steps,
        cfg.lr,
        k=0.0,
        adaptive=not transition,
        beta=cfg.beta,
        eta=cfg.k_lr,
        j1_hat=cfg.j1_hat_ce,
        k_max=cfg.k_max,
        latent_terms=svae_latent_terms(cfg.alpha, cfg.gamma),
        record=record,
    )
    stacked = Stack(victim, svae)
    t = torch.stack([y, y2], dim=1)
    r = _run(Attack(goal, space, search), stacked, mu, t, cfg.batch, cfg.seed)
    r.update(_conditions(goal, stacked, r["x_adv"], t, _m("digits-judge"), y2))
    r["history"] = search.history
    r["source"] = x
    return r


def _conditions(
    goal: KeepAndChange, stacked: nn.Module, x_adv: torch.Tensor, t: torch.Tensor, judge: nn.Module, y2: torch.Tensor
) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        c = goal.conditions(stacked(x_adv), t)
        c["judge_confirms"] = judge(x_adv).argmax(1) == y2
    c["all"] = c["victim_kept"] & c["attacker_changed"] & c["judge_confirms"]
    return c


# ----- Eq. 13: Type I on a generator's latent -----------------------------------------------------------
def cvae_type1(cfg: Type1Config, n: int) -> dict[str, Any]:
    """Eq. 13 with the zoo CVAE (latent w = [z, class logits]) against LeNet, targeted to y + 1 through the
    CVAE's auxiliary classifier; starts are kept where LeNet and the judge agree with the class drawn."""
    cvae, lenet, judge = _m("digits-cvae"), _m("digits-lenet"), _m("digits-judge")
    g = torch.Generator().manual_seed(cfg.seed + 13)
    y = torch.arange(n) % 10
    w0 = torch.cat([torch.randn(n, cvae.latent, generator=g), CLASS_LOGIT * F.one_hot(y, 10).float()], dim=1)

    def gen(w: torch.Tensor) -> torch.Tensor:
        return cvae.generate(w[:, : cvae.latent], torch.softmax(w[:, cvae.latent :], dim=1))

    with torch.no_grad():
        x0 = gen(w0)
        ok = (lenet(x0).argmax(1) == y) & (judge(x0).argmax(1) == y)
    w0, y = w0[ok], y[ok]
    y2 = (y + 1) % 10
    goal = KeepAndChange(10, "class")
    search = TypeOneSearch(cfg.latent_steps, cfg.latent_lr, k=cfg.k_digits, adaptive=False, hinge_eps=cfg.eps_digits)
    stacked = Stack(lenet, cvae)
    t = torch.stack([y, y2], dim=1)
    r = _run(Attack(goal, LatentSpace(gen, LpBall(1.0, 2.0)).unbounded(), search), stacked, w0, t, cfg.batch, cfg.seed)
    r.update(_conditions(goal, stacked, r["x_adv"], t, judge, y2))
    with torch.no_grad():
        r["source"] = gen(w0)
    r["latent_distance"] = (r["z_adv"] - r["z0"]).norm(dim=1)
    return r


def _face_threshold(name: str) -> float:
    from semadv.zoo import card

    return float(card(name).metrics["threshold_fpr_0.001"])


def face_type1(cfg: Type1Config, n: int, attacker: bool = False) -> dict[str, Any]:
    """Eq. 13 with the zoo style generator's z against ``face-r1-arcface`` (J1 = ‖f1(G(z′)) − f1(G(z))‖₂,
    untargeted). The change is judged by a second embedder (``face-r2-softmax``, the 'attacker' view) and the
    independent ``face-judge``: both must call G(z′) a different person.

    ``attacker=True`` adds Eq. 13's auxiliary term J2 with ``face-r2-softmax`` as an *embedding* attacker
    (push its distance past its FPR-10⁻³ threshold while f1 keeps the identity) — the face analogue of the
    targeted digits attack; then 'attacker changed' is the attack's own objective and only the judge and the
    inverse-renderer oracle are independent."""
    gen, f1, f2 = _m("face-stylegen"), _m("face-r1-arcface"), _m("face-r2-softmax")
    z0 = torch.randn(n, gen.zdim, generator=torch.Generator().manual_seed(cfg.seed + 17))
    with torch.no_grad():
        x0 = gen(z0)
        ref = F.normalize(f1(x0), dim=1)
        ref2 = F.normalize(f2(x0), dim=1)
    thr = _face_threshold("face-r1-arcface")
    search = TypeOneSearch(cfg.latent_steps, cfg.latent_lr, k=cfg.k_faces, adaptive=False, hinge_eps=cfg.eps_faces)
    space = LatentSpace(gen, LpBall(1.0, 2.0)).unbounded()
    if attacker:
        goal = KeepAndChange(
            ref.shape[1], "embedding", threshold=thr, attacker_threshold=_face_threshold("face-r2-softmax")
        )
        t = torch.cat([ref, ref2, -torch.ones(n, 1)], dim=1)
        victim: nn.Module = Stack(f1, f2)
    else:
        goal = KeepAndChange(ref.shape[1], "embedding", threshold=thr, attacker=False)
        t = torch.cat([ref, -torch.ones(n, 1)], dim=1)
        victim = f1
    r = _run(Attack(goal, space, search), victim, z0, t, cfg.batch, cfg.seed)
    with torch.no_grad():
        kept = goal.conditions(victim(r["x_adv"]), t)["victim_kept"]
        other, judge = _m("face-r2-softmax"), _m("face-judge")
        d_other = (F.normalize(other(r["x_adv"]), dim=1) - F.normalize(other(x0), dim=1)).norm(dim=1)
        d_judge = (F.normalize(judge(r["x_adv"]), dim=1) - F.normalize(judge(x0), dim=1)).norm(dim=1)
    r["victim_kept"] = kept
    r["attacker_changed"] = d_other > _face_threshold("face-r2-softmax")
    r["judge_confirms"] = d_judge > _face_threshold("face-judge")
    r["all"] = kept & r["attacker_changed"] & r["judge_confirms"]
    inv = FaceInverter()
    r["oracle_changed"] = ~identity_kept(inv(x0), inv(r["x_adv"]))
    r["source"] = x0
    r["latent_distance"] = (r["z_adv"] - r["z0"]).norm(dim=1)
    return r


# ----- Type II baselines ---------------------------------------------------------------------------------
def type2_digits(
    cfg: Type1Config, victim: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> dict[str, dict[str, torch.Tensor]]:
    """FGSM, PGD (engine, L∞ ε = ``type2_eps``); DeepFool, CW-L2, EAD-L1 (torchattacks references)."""
    import torchattacks

    out = {}
    space = PixelSpace(cfg.type2_eps)
    for name, search in (("FGSM", FGSM()), ("PGD", PGD(cfg.type2_steps))):
        r = _run(Attack(Misclassification(), space, search), victim, x, y, cfg.batch, cfg.seed)
        out[name] = {"x_adv": r["x_adv"], "success": r["success"] & ~r["clean_reached"]}
    victim.eval()
    for name, atk in (
        ("DeepFool (torchattacks)", torchattacks.DeepFool(victim, steps=50)),
        ("CW-L2 (torchattacks)", torchattacks.CW(victim, c=1.0, steps=100, lr=0.01)),
        ("EAD-L1 (torchattacks)", torchattacks.EADL1(victim, max_iterations=100, binary_search_steps=5)),
    ):
        torch.manual_seed(cfg.seed)
        xa = torch.cat([atk(x[s], y[s]) for s in chunks(len(x), cfg.batch)])
        with torch.no_grad():
            pred = victim(xa).argmax(1)
            clean = victim(x).argmax(1)
        out[name] = {"x_adv": xa, "success": (pred != y) & (clean == y)}
    return out


# ----- feature squeezing (§IV-C) ---------------------------------------------------------------------------
def squeeze_score(
    model: nn.Module, x: torch.Tensor, squeezer: Callable[[torch.Tensor], torch.Tensor], embedding: bool = False
) -> torch.Tensor:
    """Xu et al.'s detector score D(f(x), f(F(x))): L2 between softmax predictions (or between unit
    embeddings for a face embedder)."""
    if len(x) == 0:  # no successful examples of this kind: nothing to score
        return torch.zeros(0)
    with torch.no_grad():
        a, b = model(x), model(squeezer(x))
    if embedding:
        return (F.normalize(a, dim=1) - F.normalize(b, dim=1)).norm(dim=1)
    return (a.softmax(1) - b.softmax(1)).norm(dim=1)


def detection_table(clean: torch.Tensor, sets: dict[str, torch.Tensor], rates: list[float]) -> dict[str, Any]:
    """Thresholds ζ at the clean scores' (1 − rate) quantiles; detection rate of every set at each ζ."""
    zetas = [float(torch.quantile(clean, 1 - r)) for r in rates]
    rows = {"clean": [float((clean > z).float().mean()) for z in zetas]}
    for k, s in sets.items():
        rows[k] = [float((s > z).float().mean()) if len(s) else float("nan") for z in zetas]
    return {"zeta": zetas, "target_clean_rates": rates, "rows": rows, "counts": {k: len(v) for k, v in sets.items()}}


def digit_squeezer(x: torch.Tensor) -> torch.Tensor:
    return median_filter(bit_depth(x, 1), 2)


# ----- strengthening (§IV-D) ------------------------------------------------------------------------------
def adversarial_training(
    cfg: Type1Config,
    x: torch.Tensor,
    y: torch.Tensor,
    adv: torch.Tensor,
    adv_y: torch.Tensor,
    src: torch.Tensor,
    alp: bool,
) -> nn.Module:
    """A fresh MLP on clean data plus adversarial examples (vanilla: their labels added to the training set;
    ALP: + λ‖logits(x) − logits(x_adv)‖² pairing each adversarial with its source, Kannan et al. 2018)."""
    from semadv.training import optimize
    from semadv.zoo.nets import MLP

    torch.manual_seed(cfg.seed)
    model = MLP()
    g = torch.Generator().manual_seed(cfg.seed)
    n_adv = len(adv)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        a = idx[idx < n_adv]
        c = torch.randint(0, len(x), (len(idx),), generator=g)
        loss = F.cross_entropy(model(x[c]), y[c])
        if len(a):
            la = model(adv[a])
            loss = loss + F.cross_entropy(la, adv_y[a])
            if alp:
                loss = loss + cfg.alp_weight * (model(src[a]) - la).pow(2).sum(1).mean()
        return loss

    model.train()
    optimize(model.parameters(), loss_of, max(n_adv, len(x)), cfg.train_epochs, 64, g, 3e-3)
    return model.eval()


# ----- experiments ----------------------------------------------------------------------------------------
def _correct_test_digits(cfg: Type1Config) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """The first ``cfg.digits`` test digits that the victim f1 (``digits-mlp``) classifies correctly."""
    x, y = _digits("test")
    x, y = x[: cfg.digits], y[: cfg.digits]
    f1 = _m("digits-mlp")
    with torch.no_grad():
        ok = f1(x).argmax(1) == y
    return x[ok], y[ok], f1


def _rates(r: dict[str, Any]) -> dict[str, float]:
    """Rates of each condition; ``raw`` = what the attack itself verifies (victim kept ∧ attacker changed),
    ``all`` adds the independent check (digits: the judge; faces: the judge), ``oracle_valid`` (faces) = victim
    kept ∧ the inverse-renderer oracle says the identity changed."""
    out = {k: float(r[k].float().mean()) for k in ("victim_kept", "attacker_changed", "judge_confirms", "all")}
    out["raw"] = float((r["victim_kept"] & r["attacker_changed"]).float().mean())
    if "oracle_changed" in r:
        out["oracle_changed"] = float(r["oracle_changed"].float().mean())
        out["oracle_valid"] = float((r["victim_kept"] & r["oracle_changed"]).float().mean())
    return out


def exp_digits(cfg: Type1Config, out: Path, log: Progress) -> dict[str, Any]:
    """Alg. 2 Type I and image transition on digits, Eq. 13 with the CVAE vs LeNet; strips and curves."""
    from semadv.worlds.grid import save_grid

    x, y, f1 = _correct_test_digits(cfg)
    res: dict[str, Any] = {"attacked": len(x), "tuned": cfg.tuned}
    with torch.no_grad():  # the judge is the digits oracle (semadv.oracles.class_changed): its own error rate
        res["judge_error"] = float((_m("digits-judge")(x).argmax(1) != y).float().mean())
    tr = svae_type1(cfg, x, y, f1, transition=True)
    res["transition"] = _rates(tr)
    log(f"  image transition: judge confirms {res['transition']['judge_confirms']:.2f}")
    for tag, c in (("paper", cfg), ("tuned", cfg.tuned_config())):
        t1 = svae_type1(c, x, y, f1)
        res[f"svae_type1_{tag}"] = _rates(t1)
        log(f"  Alg. 2 Type I ({tag}) on {len(x)} digits: " + ", ".join(f"{k} {v:.2f}" for k, v in _rates(t1).items()))
        cv = cvae_type1(c, 200)
        res[f"cvae_type1_{tag}"] = {
            **_rates(cv),
            "attacked": len(cv["all"]),
            "median_latent_distance": float(cv["latent_distance"].median()),
        }
        log(f"  Eq. 13 CVAE vs LeNet ({tag}): " + ", ".join(f"{k} {v:.2f}" for k, v in _rates(cv).items()))
    # Fig. 6: loss curves of one sample (4 → 5 as in the paper), tuned setting
    i4 = int((y == 4).nonzero()[0, 0]) if bool((y == 4).any()) else 0
    one = svae_type1(cfg.tuned_config(), x[i4 : i4 + 1], y[i4 : i4 + 1], f1, record=True)
    res["curves"] = one["history"]
    # Fig. 5/7 strips: source, Type I, transition for the first examples that succeed
    good = t1["all"].nonzero()[:8, 0]
    if len(good):
        imgs = torch.stack([x[good], t1["x_adv"][good], tr["x_adv"][good]], dim=1).flatten(0, 1)
        with torch.no_grad():
            caps = []
            for i in good.tolist():
                caps += [
                    f"f1={y[i]}",
                    f"f1={int(f1(t1['x_adv'][i : i + 1]).argmax())} "
                    f"j={int(_m('digits-judge')(t1['x_adv'][i : i + 1]).argmax())}",
                    "transition",
                ]
        save_grid(imgs, out / "type1_digits.png", ncol=3, scale=6, captions=caps)
    good_c = cv["all"].nonzero()[:8, 0]
    if len(good_c):
        save_grid(
            torch.stack([cv["source"][good_c], cv["x_adv"][good_c]], 1).flatten(0, 1),
            out / "type1_cvae.png",
            ncol=2,
            scale=6,
        )
    return res


def exp_faces(cfg: Type1Config, out: Path, log: Progress) -> dict[str, Any]:
    """Eq. 13 on the face generator vs a face embedder."""
    from semadv.worlds.grid import save_grid

    res: dict[str, Any] = {"attacked": cfg.faces}
    for tag, c, attacker in (
        ("paper", cfg, False),
        ("tuned", cfg.tuned_config(), False),
        ("attacker", cfg.tuned_config(), True),
    ):
        r = face_type1(c, cfg.faces, attacker)
        res[tag] = {**_rates(r), "median_latent_distance": float(r["latent_distance"].median())}
        log(f"  Eq. 13 faces ({tag}): " + ", ".join(f"{k} {v:.2f}" for k, v in _rates(r).items()))
    order = torch.argsort((~r["all"]).float(), stable=True)[:6]
    save_grid(
        torch.stack([r["source"][order], r["x_adv"][order]], 1).flatten(0, 1), out / "type1_faces.png", ncol=4, scale=2
    )
    return res


def exp_detection(cfg: Type1Config, out: Path, log: Progress) -> dict[str, Any]:
    """Table I (digits) and Table II (faces) analogues."""
    x, y, f1 = _correct_test_digits(cfg)
    clean = squeeze_score(f1, x, digit_squeezer)
    sets = {}
    for name, r in type2_digits(cfg, f1, x, y).items():
        sets[name] = squeeze_score(f1, r["x_adv"][r["success"]], digit_squeezer)
        log(f"  {name}: success {float(r['success'].float().mean()):.2f}")
    t1 = svae_type1(cfg.tuned_config(), x, y, f1)
    sets["Type I (Alg. 2, tuned)"] = squeeze_score(f1, t1["x_adv"][t1["all"]], digit_squeezer)
    res: dict[str, Any] = {"digits": detection_table(clean, sets, cfg.clean_rates)}
    # faces: clean generated faces, their Type I (Eq. 13) and Type II (PGD on verification) versions
    f = face_type1(cfg.tuned_config(), cfg.faces)
    emb = _m("face-r1-arcface")
    thr = _face_threshold("face-r1-arcface")
    with torch.no_grad():
        ref = F.normalize(emb(f["source"]), dim=1)

    def away(o: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        assert t is not None
        return -(F.normalize(o, dim=1) - t).norm(dim=1)

    goal = LossGoal(away, threshold=-thr)
    r2 = _run(
        Attack(goal, PixelSpace(cfg.face_type2_eps), PGD(cfg.type2_steps, random_start=True)),
        emb,
        f["source"],
        ref,
        64,
        cfg.seed,
    )
    res["faces"] = {}
    for k in (3, 5):
        sq = lambda im, k=k: median_filter(im, k)
        res["faces"][f"median {k}x{k}"] = detection_table(
            squeeze_score(emb, f["source"], sq, embedding=True),
            {
                "Type I (Eq. 13)": squeeze_score(emb, f["x_adv"][f["all"]], sq, embedding=True),
                "Type II (PGD L∞ 8/255)": squeeze_score(emb, r2["x_adv"][r2["success"]], sq, embedding=True),
            },
            cfg.clean_rates,
        )
    return res


def exp_strengthen(cfg: Type1Config, out: Path, log: Progress) -> dict[str, Any]:
    """Table III analogue: adversarial training with Type I / FGSM / PGD examples (vanilla and ALP), each
    evaluated on the held-out half of every example set and on clean test digits."""
    xtr, ytr = _digits("train")
    xte, yte = _digits("test")
    f1 = _m("digits-mlp")
    with torch.no_grad():
        ok = f1(xtr).argmax(1) == ytr
    xs, ys = xtr[ok], ytr[ok]
    sets: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    t1 = svae_type1(cfg.tuned_config(), xs, ys, f1)
    m = t1["all"]
    sets["Type I"] = (t1["x_adv"][m], (ys[m] + 1) % 10, xs[m])  # true class is now y′ (judge-confirmed)
    t2 = type2_digits(cfg, f1, xs, ys)
    for name in ("FGSM", "PGD"):
        s = t2[name]["success"]
        sets[name] = (t2[name]["x_adv"][s], ys[s], xs[s])
    g = torch.Generator().manual_seed(cfg.seed)
    split = {}
    for k, (a, lab, src) in sets.items():
        perm = torch.randperm(len(a), generator=g)
        h = len(a) // 2
        split[k] = ((a[perm[:h]], lab[perm[:h]], src[perm[:h]]), (a[perm[h:]], lab[perm[h:]]))
        log(f"  {k}: {len(a)} examples ({h} for training)")

    def evaluate(model: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            row = {"clean test": float((model(xte).argmax(1) == yte).float().mean())}
            for k, (_, (a, lab)) in split.items():
                row[k] = float((model(a).argmax(1) == lab).float().mean()) if len(a) else float("nan")
        return row

    rows = {"original MLP": evaluate(f1)}
    for k, ((a, lab, src), _) in split.items():
        for alp in (False, True):
            model = adversarial_training(cfg, xtr, ytr, a, lab, src, alp)
            rows[f"{'ALP' if alp else 'vanilla'} + {k}"] = evaluate(model)
    return {"rows": rows, "examples": {k: len(v[0]) for k, v in sets.items()}}


# ----- page -----------------------------------------------------------------------------------------------
def page(results: dict[str, dict[str, Any]], d: Path, prefix: str) -> str:
    from semadv.report.figures import line_chart

    L = [
        "# Type I attacks: significant changes the victim ignores (seed 001)",
        "",
        "Generated by `semadv run configs/recipes/type1.toml --out docs/results/type1`. Success conditions "
        "(§IV-B): **victim kept** (f1's output unchanged), **attacker changed** (f2 reads the new class), "
        "**judge confirms** (an independent model sees the change); **all** = jointly.",
        "",
    ]

    def cond_row(name: str, r: dict[str, float], n: Any = "") -> str:
        keys = ("victim_kept", "attacker_changed", "raw", "judge_confirms", "all", "oracle_changed", "oracle_valid")
        return f"| {name} | {n} | " + " | ".join(f"{r[k]:.3f}" if k in r else "–" for k in keys) + " |"

    head = [
        "| attack | n | victim kept | attacker changed | raw (kept ∧ changed) | judge confirms | all three | "
        "oracle: identity changed | valid (kept ∧ oracle changed) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    if "digits" in results:
        r = results["digits"]
        c = r["config"]
        L += [
            "## Digits",
            "",
            f"Victim f1 = `digits-mlp`, attacker f2 = `digits-svae`, judge = `digits-judge`, target y′ = y + 1. "
            f"Alg. 2: {c['steps']} Adam steps at lr {c['lr']}, α = {c['alpha']}, γ = {c['gamma']}, β = {c['beta']}, "
            f"Ĵ1 = {c['j1_hat_ce']}, k ∈ [0, {c['k_max']}]. Eq. 13: CVAE vs `digits-lenet`, k = {c['k_digits']}, "
            f"ε = {c['eps_digits']}.",
            "",
            *head,
            cond_row("image transition (§III-B, f2 only)", r["transition"], r["attacked"]),
            cond_row("Type I, Alg. 2 (SVAE latent), paper defaults", r["svae_type1_paper"], r["attacked"]),
            cond_row("Type I, Alg. 2 (SVAE latent), tuned", r["svae_type1_tuned"], r["attacked"]),
            cond_row(
                "Type I, Eq. 13 (CVAE vs LeNet), paper defaults",
                r["cvae_type1_paper"],
                r["cvae_type1_paper"]["attacked"],
            ),
            cond_row("Type I, Eq. 13 (CVAE vs LeNet), tuned", r["cvae_type1_tuned"], r["cvae_type1_tuned"]["attacked"]),
            "",
            f"Tuned setting: {r['tuned']} (the paper's k ≤ 0.005 cannot hold these small victims: J2 out-weighs J1).",
            "",
        ]
        if (d / "type1_digits.png").exists():
            L += [
                f"![digit strips]({prefix}/type1_digits.png)",
                "",
                "Columns: source, Type I example, image transition.",
                "",
            ]
        if (d / "type1_cvae.png").exists():
            L += [f"![cvae]({prefix}/type1_cvae.png)", "", "Eq. 13: generated source, Type I example.", ""]
        if r.get("curves"):
            h = r["curves"]
            ts = list(range(len(h)))
            series = {}
            for key, label in (("J2", "attacker f2 loss"), ("J1", "victim f1 loss"), ("latent", "f_dis + ‖z‖ terms")):
                v = [math.log10(max(p[key], 1e-6)) for p in h]
                lo, hi = min(v), max(v)
                series[label] = (ts, [(a - lo) / (hi - lo or 1) for a in v])
            (d / "type1_curves.svg").write_text(line_chart(series, "iteration", "log10 loss (min-max scaled)"))
            L += [
                "Loss curves of one 4 → 5 attack (Fig. 6 analogue; each curve log-scaled to [0, 1]):",
                "",
                f"![curves]({prefix}/type1_curves.svg)",
                "",
            ]
    if "faces" in results:
        r = results["faces"]
        c = r["config"]
        L += [
            "## Faces (Eq. 13)",
            "",
            f"z of `face-stylegen` vs `face-r1-arcface` (kept: distance ≤ its FPR-10⁻³ threshold), k = {c['k_faces']}, "
            f"ε = {c['eps_faces']}, {c['latent_steps']} Adam steps at lr {c['latent_lr']}. Attacker changed = "
            "`face-r2-softmax` calls it a different person; judge = `face-judge` does too.",
            "",
            *head,
            cond_row("Type I, Eq. 13 (style generator), paper defaults", r["paper"], r["attacked"]),
            cond_row("Type I, Eq. 13 (style generator), tuned", r["tuned"], r["attacked"]),
            *(
                [
                    cond_row(
                        "Type I, Eq. 13 + embedding attacker J2 (face-r2-softmax), tuned", r["attacker"], r["attacked"]
                    )
                ]
                if "attacker" in r
                else []
            ),
            "",
            "Oracle = the inverse renderer (`semadv.oracles.identity_kept` on G(z) and G(z′)); its error rates on "
            "generated faces are on `docs/results/oracles.md`.",
            "",
            f"Median latent distance ‖z′ − z‖: paper {r['paper']['median_latent_distance']:.3f}, "
            f"tuned {r['tuned']['median_latent_distance']:.3f}.",
            "",
            f"![faces]({prefix}/type1_faces.png)" if (d / "type1_faces.png").exists() else "",
            "",
        ]
    if "detection" in results:
        r = results["detection"]
        dg = r["digits"]
        L += [
            "## Feature-squeezing detection (Table I / II analogues)",
            "",
            "Digits: bit depth 1 + 2×2 median, L2 between f1's predictions; ζ set on clean test digits. Rows give the "
            "detection rate (fraction flagged as adversarial) of successful examples.",
            "",
            "| examples | n | " + " | ".join(f"ζ = {z:.3g}" for z in dg["zeta"]) + " |",
            "|---|---|" + "---|" * len(dg["zeta"]),
        ]
        for k, v in dg["rows"].items():
            L.append(f"| {k} | {dg['counts'].get(k, '')} | " + " | ".join(f"{a:.3f}" for a in v) + " |")
        L += [
            "",
            "Faces: median filters on `face-r1-arcface`'s input, embedding distance; clean = generated faces.",
            "",
        ]
        for name, tab in r["faces"].items():
            L += [
                f"**{name}**",
                "",
                "| examples | n | " + " | ".join(f"ζ = {z:.3g}" for z in tab["zeta"]) + " |",
                "|---|---|" + "---|" * len(tab["zeta"]),
            ]
            for k, v in tab["rows"].items():
                L.append(f"| {k} | {tab['counts'].get(k, '')} | " + " | ".join(f"{a:.3f}" for a in v) + " |")
            L.append("")
    if "strengthen" in results:
        r = results["strengthen"]
        cols = list(next(iter(r["rows"].values())))
        L += [
            "## Strengthening (Table III analogue)",
            "",
            "Accuracy of MLPs trained with each example set (training half) on clean test digits and on the held-out "
            "half of every set (Type I examples are scored against their new, judge-confirmed class). "
            f"Examples: {r['examples']}.",
            "",
            "| training | " + " | ".join(cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for k, v in r["rows"].items():
            L.append(f"| {k} | " + " | ".join(f"{a:.3f}" for a in v.values()) + " |")
        L.append("")
    return "\n".join(L)


register_recipe(
    Recipe(
        name="type1",
        config=Type1Config,
        experiments={
            "digits": exp_digits,
            "faces": exp_faces,
            "detection": exp_detection,
            "strengthen": exp_strengthen,
        },
        page=page,
        page_name="type1.md",
        claims=_claims.CLAIMS,
    )
)

__all__ = [
    "Type1Config",
    "bit_depth",
    "cvae_type1",
    "detection_table",
    "face_type1",
    "median_filter",
    "svae_type1",
]
