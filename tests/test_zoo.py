"""Zoo: every shipped model loads offline, matches its card's SHA-256, runs, and re-measures its metric."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from semadv import zoo
from semadv.errors import InputError, RegistryError
from semadv.zoo.registry import WEIGHTS_DIR

SHIPPED = sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def test_every_entry_is_shipped_and_weights_are_small():
    from semadv.zoo.registry import PENDING

    assert set(SHIPPED) == set(zoo.entries()) - PENDING
    assert not PENDING & set(SHIPPED)
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors"))
    assert total <= 30 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_card_sha_forward_and_metric(name):
    card = zoo.card(name)
    assert zoo.sha256(WEIGHTS_DIR / f"{name}.safetensors") == card.sha256
    assert card.reproduce == f"semadv zoo train {name} --seed {card.seed}" and card.train_seconds <= 20 * 60
    model = zoo.load(name)
    entry = zoo.entries()[name]
    quick = entry.evaluate(model, 200, 1)
    assert abs(quick[entry.quick_metric] - card.metrics[entry.quick_metric]) <= entry.tolerance, (quick, card.metrics)
    assert not any(p.requires_grad for p in model.parameters())


def test_tampered_weights_are_refused(tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS_DIR / f"digits-tinycnn{suffix}", tmp_path / f"digits-tinycnn{suffix}")
    data = (tmp_path / "digits-tinycnn.safetensors").read_bytes()
    (tmp_path / "digits-tinycnn.safetensors").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(InputError, match="SHA-256"):
        zoo.load("digits-tinycnn", weights_dir=tmp_path)
    with pytest.raises(RegistryError, match="unknown zoo model 'resnet9000'"):
        zoo.load("resnet9000")


def test_training_is_deterministic_by_seed(tmp_path):
    a = zoo.train("digits-tinycnn", seed=0, weights_dir=tmp_path / "a")
    b = zoo.train("digits-tinycnn", seed=0, weights_dir=tmp_path / "b")
    assert a.sha256 == b.sha256
    card = json.loads((tmp_path / "a" / "digits-tinycnn.json").read_text())
    assert card["metrics"]["test_accuracy"] >= 0.95
    x = torch.zeros(1, 1, 16, 16)
    assert zoo.load("digits-tinycnn", weights_dir=tmp_path / "a")(x).shape == (1, 10)


def test_quality_bars_of_the_cards():
    """Issue bars (zoo I/II) hold for the shipped cards."""
    m = {n: zoo.card(n).metrics for n in SHIPPED}
    for name in ("face-r1-softmax", "face-r2-softmax", "face-r1-arcface", "face-r2-arcface"):
        assert m[name]["verification_accuracy"] >= 0.95, name
        assert m[name]["impostor_pairs"] >= 100_000
        assert m[name]["threshold_fpr_0.0001"] <= m[name]["threshold_fpr_0.0003"] <= m[name]["threshold_fpr_0.001"]
    assert m["face-landmarks"]["nme"] <= 0.05
    assert m["face-attributes"]["mean_accuracy"] >= 0.90
    assert m["face-editor"]["edit_accuracy"] >= 0.80
    # SemanticAdv's editor: 4x lower reconstruction error than face-editor, still editing
    assert m["face-editor-hifi"]["reconstruction_l1"] <= 0.03 < m["face-editor"]["reconstruction_l1"]
    assert m["face-editor-hifi"]["edit_accuracy"] >= 0.65
    assert m["scene3d-cnn"]["accuracy"] >= 0.90
    assert {"fid_embedder_features", "direction_mean_edit_accuracy"} <= set(m["face-stylegen"])
