"""Seed 000 (SemanticAdv) parts: interpolation spaces, Eq. 6 TV, the verification goal vs the model cards,
landmark targets, the region goal, MI-/DI²-FGSM, the all-attributes batch, and a tiny recipe run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from semadv.attack import Attack
from semadv.defenses import bit_depth
from semadv.errors import InputError
from semadv.goals import (
    LandmarkTargetGoal,
    OutOfRegionGoal,
    RegionGoal,
    VerificationGoal,
    nme,
    out_of_region_ratio,
    rotate_groups,
    verification_distance,
)
from semadv.recipes.semanticadv import ATTRS, edit_attributes, face_pairs, threshold
from semadv.search import MIFGSM, PGD, AdamPenalty, input_diversity, total_variation
from semadv.spaces import AttributeInterpolationSpace, FeatureInterpolationSpace, PixelSpace, refine_reconstruction
from semadv.zoo import card, load


@pytest.fixture(scope="module")
def editor() -> torch.nn.Module:
    return load("face-editor-hifi")


@pytest.fixture(scope="module")
def pairs() -> dict[str, torch.Tensor]:
    return face_pairs(3, 0)


def test_feature_interpolation_endpoints(editor: torch.nn.Module, pairs: dict[str, torch.Tensor]) -> None:
    x, c = pairs["x"], pairs["c"]
    c_new = c.clone()
    c_new[:, ATTRS.index("hair_color")] = 1.0
    with torch.no_grad():
        f_src, f_new = editor.encode(x, c), editor.encode(x, c_new)
        space = FeatureInterpolationSpace(lambda f, _: editor.decode(f), f_src.shape[1:])
        src = space.pack(f_src, f_new)
        one = space.decode(torch.ones_like(f_src), src)
        zero = space.decode(torch.zeros_like(f_src), src)
        half = space.decode(torch.full_like(f_src, 0.5), src)
        assert torch.allclose(one, editor.decode(editor.encode(x, c)), atol=1e-6)
        assert torch.allclose(zero, editor.decode(editor.encode(x, c_new)), atol=1e-6)
        assert torch.allclose(half, editor.decode(0.5 * f_src + 0.5 * f_new), atol=1e-6)
        assert (one - zero).abs().mean() > 1e-3  # the edit changes the image
    # default box: the released code's α ∈ [0, 0.4], start 0.2
    z0 = space.encode(src)
    assert z0.shape == f_src.shape and torch.all(z0 == 0.2)
    assert torch.allclose(space.project(torch.full_like(z0, 0.9), z0), torch.full_like(z0, 0.4))


def test_attribute_interpolation_endpoints(editor: torch.nn.Module, pairs: dict[str, torch.Tensor]) -> None:
    x, c = pairs["x"], pairs["c"]
    c_new = 1 - c
    space = AttributeInterpolationSpace(editor, x.shape[1:], c.shape[1], alpha_range=(0, 1), alpha_init=0.5)
    src = space.pack(x, c, c_new)
    with torch.no_grad():
        assert torch.allclose(space.decode(torch.ones(3, 1), src), editor(x, c), atol=1e-6)
        assert torch.allclose(space.decode(torch.zeros(3, 1), src), editor(x, c_new), atol=1e-6)
        assert torch.allclose(
            space.decode(torch.full((3, 1), 0.25), src), editor(x, 0.25 * c + 0.75 * c_new), atol=1e-6
        )


def test_space_errors_name_the_bad_value(editor: torch.nn.Module) -> None:
    with pytest.raises(InputError, match="alpha_init must lie in"):
        FeatureInterpolationSpace(lambda f, _: f, (2, 4, 4), alpha_range=(0, 0.4), alpha_init=0.7)
    with pytest.raises(InputError, match=r"lo=0\.5, hi=0\.2"):
        FeatureInterpolationSpace(lambda f, _: f, (2, 4, 4), alpha_range=(0.5, 0.2), alpha_init=0.3)
    space = FeatureInterpolationSpace(lambda f, _: f, (2, 4, 4))
    with pytest.raises(InputError, match=r"\(B, 64\)"):
        space.check_source(torch.zeros(3, 10))
    with pytest.raises(InputError, match="feature maps must both be"):
        space.pack(torch.zeros(3, 2, 4, 4), torch.zeros(3, 2, 4, 5))


def test_refinement_improves_reconstruction(editor: torch.nn.Module, pairs: dict[str, torch.Tensor]) -> None:
    x, c = pairs["x"], pairs["c"]
    xr = refine_reconstruction(editor, x, c, steps=20, lr=0.01)
    with torch.no_grad():
        before = (editor(x, c) - x).pow(2).mean()
        after = (editor(xr, c) - x).pow(2).mean()
    assert after < 0.9 * before
    assert float(xr.min()) >= 0 and float(xr.max()) <= 1
    assert torch.equal(refine_reconstruction(editor, x, c, steps=0), x)


def test_tv_matches_hand_computed_values() -> None:
    a = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]], [[1.0, 1.0], [1.0, 3.0]]]])  # (1, C=2, 2, 2)
    # vertical diffs: ch0 (3, 0), ch1 (0, 2); horizontal: ch0 (1, -2), ch1 (0, 2)
    assert total_variation(a, squared=True).item() == pytest.approx(9 + 0 + 0 + 4 + 1 + 4 + 0 + 4)
    assert total_variation(a, squared=False).item() == pytest.approx(3 + 0 + 0 + 2 + 1 + 2 + 0 + 2)
    assert total_variation(torch.ones(2, 3, 5, 5), squared=True).tolist() == [0.0, 0.0]


def test_verification_success_agrees_with_the_card_thresholds(pairs: dict[str, torch.Tensor]) -> None:
    name = "face-r1-softmax"
    m = card(name).metrics
    for fpr in (1e-3, 3e-4, 1e-4):
        thr = threshold(name, fpr)
        assert thr == m[f"threshold_fpr_{fpr:g}"]
        goal = VerificationGoal(thr)
        # embeddings at a controlled distance just inside / outside the threshold
        u = torch.tensor([[1.0, 0.0, 0.0]])
        for d, expect in ((thr - 1e-4, True), (thr + 1e-4, False)):
            ang = 2 * math.asin(d / 2)  # chord length d on the unit sphere
            v = torch.tensor([[math.cos(ang), math.sin(ang), 0.0]])
            assert verification_distance(v, u).item() == pytest.approx(d, abs=1e-5)
            assert bool(goal.reached(v, u)) is expect
            assert goal.loss(v, u).item() == pytest.approx(max(d, thr), abs=1e-5)
    # the real embedder: a face and itself are the same person; the card's threshold separates a
    # different identity (the sources and targets of face_pairs differ in identity)
    emb = load(name)
    with torch.no_grad():
        e_src, e_tgt = emb(pairs["x"]), emb(pairs["x_tgt"])
    goal = VerificationGoal(threshold(name, 1e-3))
    assert goal.reached(e_src, e_src).all()
    assert not goal.reached(e_src, e_tgt).any()
    with pytest.raises(InputError, match="threshold must be"):
        VerificationGoal(2.5)
    with pytest.raises(InputError, match=r"has no threshold for FPR 0\.05"):
        threshold(name, 0.05)


def test_rotating_eyes_target_hand_computed() -> None:
    lm = torch.tensor([[[10.0, 20.0], [14.0, 20.0], [12.0, 20.0], [30.0, 5.0]]])
    out = rotate_groups(lm, [(0, 1, 2)], 90.0)
    # centre (12, 20); (−2, 0) → counter-clockwise on screen (y down) → (0, +2): below the centre
    assert out[0, 0].tolist() == pytest.approx([12.0, 22.0], abs=1e-5)
    assert out[0, 1].tolist() == pytest.approx([12.0, 18.0], abs=1e-5)  # right of centre → above it
    assert out[0, 2].tolist() == pytest.approx([12.0, 20.0], abs=1e-5)
    assert out[0, 3].tolist() == [30.0, 5.0]  # not in a group: unchanged
    with pytest.raises(InputError, match="out of range"):
        rotate_groups(lm, [(0, 7)])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-180, 180))
def test_rotation_preserves_distances_and_four_quarter_turns_are_identity(seed: int, deg: float) -> None:
    lm = torch.rand(2, 6, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 64
    groups = [(0, 1, 4), (2, 3, 5)]
    r = rotate_groups(lm, groups, deg)
    for g in groups:
        assert torch.allclose(torch.cdist(r[:, list(g)], r[:, list(g)]), torch.cdist(lm[:, list(g)], lm[:, list(g)]))
    q = lm
    for _ in range(4):
        q = rotate_groups(q, groups, 90.0)
    assert torch.allclose(q, lm, atol=1e-9)


def test_nme_and_out_of_region_hand_computed() -> None:
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])
    tgt = torch.zeros(1, 2, 2)
    box = torch.tensor([[0.0, 0.0, 4.0, 9.0]])  # √(4·9) = 6
    assert nme(pred, tgt, box).item() == pytest.approx((0 + 5) / 2 / 6)
    pts = torch.tensor([[[5.0, 5.0], [1.0, 5.0], [9.0, 9.0], [2.0, 2.0]]])
    region = (2.0, 2.0, 8.0, 8.0)
    assert out_of_region_ratio(pts, region).item() == pytest.approx(0.75)  # on the edge counts as out
    goal = OutOfRegionGoal(region, margin=0.0)
    assert goal.loss(pts, None).item() == pytest.approx(3.0 / 4)  # only (5, 5) is inside, depth 3
    assert not goal.reached(pts, None).item()
    assert LandmarkTargetGoal(tol=0.5).reached(pred, torch.tensor([[[0.0, 0.0], [3.0, 4.5]]])).item()
    with pytest.raises(InputError, match="x0 < x1"):
        OutOfRegionGoal((5, 0, 1, 3))


def test_region_goal_removal_and_relabel() -> None:
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1] = 5.0  # everything predicted class 1
    mask = torch.tensor([[[True, True], [False, False]]])
    removal = RegionGoal(cls=1, theta=0.9)
    assert not removal.reached(logits, mask).item()
    logits2 = logits.clone()
    logits2[0, 2, 0, :] = 10.0  # the masked pixels become class 2
    assert removal.reached(logits2, mask).item()
    relabel = RegionGoal(cls=1, to=2, theta=0.5)
    assert relabel.reached(logits2, mask).item() and not relabel.reached(logits, mask).item()
    # margin loss: masked pixels only, floored at −κ
    assert removal.loss(logits, mask).item() == pytest.approx(5.0)
    assert removal.loss(logits2, mask).item() == pytest.approx(-1.0)
    with pytest.raises(InputError, match="at least one pixel"):
        removal.check_target(torch.zeros(1, 2, 2, dtype=torch.bool), logits)


def test_edit_attributes_batches_all_pairs() -> None:
    c = torch.tensor([[0.2] * 17, [0.8] * 17])
    attrs = ["smile", "yaw", "hat"]
    c_rep, c_new, names = edit_attributes(c, attrs)
    assert c_rep.shape == (6, 17) and c_new.shape == (6, 17)
    for row in range(6):
        k = ATTRS.index(attrs[row % 3])
        diff = (c_new[row] != c_rep[row]).nonzero().squeeze(1).tolist()
        assert diff == [k]
        assert c_new[row, k].item() == (1.0 if row < 3 else 0.0)
    assert names[:3] == ["+smile", "+yaw", "+hat"] and names[3] == "-smile"


def test_semanticadv_attack_keeps_alpha_in_its_box(editor: torch.nn.Module, pairs: dict[str, torch.Tensor]) -> None:
    emb = load("face-r2-softmax")
    c_rep, c_new, _ = edit_attributes(pairs["c"][:1], ["hair_color", "yaw"])
    x = pairs["x"][:1].repeat(2, 1, 1, 1)
    with torch.no_grad():
        f1, f2 = editor.encode(x, c_rep), editor.encode(x, c_new)
        t = emb(pairs["x_tgt"][:1]).repeat(2, 1)
    space = FeatureInterpolationSpace(lambda f, _: editor.decode(f), f1.shape[1:], alpha_range=(0.0, 0.4))
    goal = VerificationGoal(threshold("face-r2-softmax", 1e-3))
    r = Attack(goal, space, AdamPenalty(steps=5, lr=0.1, tv=0.01, tv_squared=True), checks=False)(
        emb, space.pack(f1, f2), t
    )
    assert r.z_adv.shape == f1.shape
    assert float(r.z_adv.min()) >= 0 and float(r.z_adv.max()) <= 0.4 + 1e-6
    assert float(r.x_adv.min()) >= 0 and float(r.x_adv.max()) <= 1
    with torch.no_grad():
        d = verification_distance(emb(r.x_adv), t)
        d0 = verification_distance(emb(space.decode(space.encode(space.pack(f1, f2)), space.pack(f1, f2))), t)
    assert torch.allclose(r.loss, d.clamp(min=goal.kappa), atol=1e-5)
    assert bool((d <= d0 + 1e-5).all())  # the best iterate is never worse than the start


def test_mifgsm_and_input_diversity() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 64, 5))
    x = torch.rand(4, 3, 8, 8)
    y = net(x).argmax(1)
    from semadv.goals import Misclassification

    space = PixelSpace(eps=8 / 255)
    r = Attack(Misclassification(), space, MIFGSM(steps=5), checks=False)(net, x, y)
    assert float((r.x_adv - x).abs().max()) <= 8 / 255 + 1e-6
    # μ = 0 without diversity is PGD with the same step
    a = Attack(Misclassification(), space, PGD(steps=3, alpha=0.01, early_stop=False, momentum=0.0), checks=False)(
        net, x, y
    )
    b = Attack(Misclassification(), space, PGD(steps=3, alpha=0.01, early_stop=False), checks=False)(net, x, y)
    assert torch.equal(a.x_adv, b.x_adv)
    assert torch.equal(input_diversity(x, 0.0), x)
    g = torch.Generator().manual_seed(1)
    d = input_diversity(x, 1.0, generator=g)
    assert d.shape == x.shape and not torch.equal(d, x)
    with pytest.raises(InputError, match="diversity must be a probability"):
        PGD(diversity=1.5)


def test_squeeze_is_straight_through() -> None:
    x = torch.tensor([0.03, 0.5, 0.97], requires_grad=True)
    y = bit_depth(x, 4)
    assert y.tolist() == pytest.approx([0.0, 8 / 15, 1.0])
    y.sum().backward()
    assert x.grad is not None and x.grad.tolist() == [1.0, 1.0, 1.0]


def test_tiny_recipe_run_writes_the_page(tmp_path: Path) -> None:
    from semadv.recipes.base import load_recipe_config, run_recipe

    cfg_path = tmp_path / "tiny.toml"
    root = Path(__file__).resolve().parents[1]
    cfg_path.write_text(
        f'base = "{root}/configs/recipes/semanticadv.toml"\n[recipe]\npage = ""\nexperiment = "verification"\n'
        'identities = 1\nattributes = ["hair_color", "yaw"]\nembedders = ["face-r1-softmax"]\n'
        "g_fprs = [1e-3, 1e-4]\nsteps_high_fpr = 3\nsteps_low_fpr = 3\ncw_steps = 3\nrefine_steps = 1\n"
        "transfer_steps = 2\n"
    )
    recipe, cfg = load_recipe_config(cfg_path)
    page = run_recipe(recipe, cfg, tmp_path / "out", log=lambda m: None)
    text = page.read_text()
    assert "Table C analogue" in text and "SemanticAdv (Best)" in text and "Transferability" in text
    res = json.loads((tmp_path / "out" / "verification.json").read_text())
    assert len(res["semanticadv"]["face-r1-softmax"]["0.001"]["success"]) == 2
    assert (tmp_path / "out" / "semanticadv_grid.png").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{root}/configs/recipes/semanticadv.toml"\n[recipe]\nattributes = ["wings"]\n')
    recipe, cfg = load_recipe_config(bad)
    with pytest.raises(InputError, match="unknown attribute 'wings'"):
        run_recipe(recipe, cfg, tmp_path / "bad", log=lambda m: None)
