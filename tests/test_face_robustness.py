"""Seed 002 recipe on a tiny gallery: the composition's guarantees (ellipsoid, FAB vs PGD, certificates)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from semadv.campaign.config import ConfigError
from semadv.recipes.base import load_recipe_config, run_recipe
from semadv.recipes.face_robustness import (
    EXACT_BUDGETS,
    FaceRobustnessConfig,
    fab_attack,
    gallery_scenes,
    make_setup,
    make_victim,
    pgd_attack,
)
from semadv.spaces.render import RenderSpace
from semadv.worlds.faces import same_identity

CFG = FaceRobustnessConfig(
    name="face-robustness",
    embedders=["face-r1-arcface"],
    spaces=["exact"],
    identities=8,
    gallery=300,
    pgd_restarts=2,
    fab_identities=6,
    fab_targets=3,
    fab_restarts=2,
    batch=8,
)


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("fr")
    setup = make_setup("exact", CFG, CFG.gallery, CFG.identities, out, lambda m: None, scale=2.0)
    return setup, make_victim("face-r1-arcface", setup, 0)


def test_gallery_is_nested_and_identities_are_unseen() -> None:
    a, b = gallery_scenes(150, 0), gallery_scenes(300, 0)
    assert torch.equal(a, b[:150])
    assert not torch.equal(gallery_scenes(150, 1), a)


def test_pgd_never_leaves_the_ellipsoid_and_keeps_identity(exact) -> None:  # type: ignore[no-untyped-def]
    setup, victim = exact
    r = pgd_attack(setup, victim, CFG)
    eta = (r["z_adv"] - r["z0"]).double()
    budgets = 2.0 * torch.tensor(list(EXACT_BUDGETS.values()), dtype=torch.float64)
    m_norm = ((eta / budgets) ** 2).sum(1).sqrt()
    assert float(m_norm.max()) <= 1 + 1e-5
    assert torch.allclose(r["distance"].double(), m_norm, atol=1e-5)
    assert float(setup.space.violation(r["z_adv"], r["z0"]).max()) <= 1e-6
    space = setup.space
    assert isinstance(space, RenderSpace)
    assert bool(same_identity(space.scene(r["z0"], setup.probes), space.scene(r["z_adv"], setup.probes)).all())
    # PGD does find adversarials at twice the budget on this gallery (the test can fail)
    assert int(r["success"].sum()) >= 1


def test_fab_examples_are_adversarial_and_no_larger_than_pgd(exact) -> None:  # type: ignore[no-untyped-def]
    setup, victim = exact
    f = fab_attack(setup, victim, CFG)
    found = torch.isfinite(f["distance"])
    assert int(found.sum()) >= 1
    with torch.no_grad():
        pred = victim(f["x_adv"][found]).argmax(1)
    assert bool((pred != setup.labels[: len(found)][found]).all())
    r = pgd_attack(setup, victim, CFG)
    n = len(found)
    both = found & r["success"][:n]
    assert int(both.sum()) >= 1
    assert bool((f["distance"][both] <= r["distance"][:n][both] + 1e-4).all()), (f["distance"], r["distance"])


def test_certification_radii_and_curves(tmp_path: Path) -> None:
    cfg = CFG.model_copy(
        update={
            "experiment": "certify",
            "certify_spaces": ["exact"],
            "certify_identities": 4,
            "gallery": 60,
            "certify_n0": 10,
            "certify_n": 40,
            "sigmas_iso": [0.1, 0.3],
            "sigmas_aniso": [0.25, 1.0],
        }
    )
    from semadv.recipes.face_robustness import exp_certify

    res = exp_certify(cfg, tmp_path, lambda m: None)
    row = res["rows"][0]
    assert all(v >= 0 for v in row["acr"].values())
    for ys in row["curves"].values():
        assert all(0 <= y <= 1 for y in ys)
        assert all(a >= b for a, b in itertools.pairwise(ys))


def test_recipe_config_errors_name_the_bad_value(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[recipe]\nname = "face-robustness"\nexperiment = "nope"\n')
    with pytest.raises(ConfigError, match="nope"):
        load_recipe_config(p)
    p.write_text('[recipe]\nname = "face-robustness"\nidentities = -3\n')
    with pytest.raises(ConfigError, match="identities"):
        load_recipe_config(p)
    p.write_text('[recipe]\nname = "no-such-recipe"\n')
    with pytest.raises(ConfigError, match="no-such-recipe"):
        load_recipe_config(p)


def test_run_writes_json_and_page(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(
        '[recipe]\nname = "face-robustness"\nexperiment = "embedders"\nembedders = ["face-r1-softmax"]\n'
        'spaces = ["exact"]\nidentities = 4\ngallery = 40\npgd_restarts = 1\n'
        f'page = "{(tmp_path / "docs" / "fr.md").as_posix()}"\n'
    )
    recipe, cfg = load_recipe_config(p, ["recipe.pgd_steps=3"])
    assert cfg.pgd_steps == 3  # type: ignore[attr-defined]
    page = run_recipe(recipe, cfg, tmp_path / "out", log=lambda m: None)
    text = page.read_text()
    assert "Robust accuracy under PGD" in text and "face-r1-softmax" in text
    assert (tmp_path / "out" / "embedders.json").exists()
    assert (tmp_path / "docs" / "fr.md").read_text().startswith("# Semantic robustness")


def test_audit_probes_every_certified_region_in_both_noise_families(tmp_path: Path) -> None:
    """Issue 21.3: the recipe audits its own certificates (exact space, isotropic and anisotropic)."""
    cfg = CFG.model_copy(
        update={
            "experiment": "audit",
            "audit_spaces": ["exact"],
            "audit_identities": 3,
            "gallery": 60,
            "certify_n0": 10,
            "certify_n": 60,
            "audit_points": 2,
            "audit_n": 60,
        }
    )
    from semadv.experiments.face_robustness import _sound
    from semadv.recipes.face_robustness import exp_audit

    res = exp_audit(cfg, tmp_path, lambda m: None)
    assert [r["family"] for r in res["rows"]] == ["isotropic", "anisotropic"]
    for r in res["rows"]:
        assert r["points"] == 3 * r["certified"]  # two random probes and one PGD probe per certified region
        assert 0 <= r["base_flips"] <= r["points"] and r["violations"] == 0
    assert res["audited_points"] == sum(r["points"] for r in res["rows"]) > 0
    res["config"] = cfg.model_dump()
    m = _sound({"audit": res})
    assert m is not None and m.verdict == "holds" and m.measured["audited"] == res["audited_points"]
    res["violations"] = 1
    assert _sound({"audit": res}).verdict == "does not hold"  # type: ignore[union-attr]
