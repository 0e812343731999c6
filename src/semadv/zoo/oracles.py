"""Zoo entry of the faces world's amortised inverse renderer (the first stage of :mod:`semadv.oracles`).

``face-inverse``: a small CNN regressing all 32 scene parameters of a face image, normalised to [0, 1]
by the parameter ranges. Trained on fresh world renders (every epoch new scenes: the world is infinite)
with L1 loss; the card records per-parameter mean absolute error on held-out identities and the
identity-distance threshold that :func:`semadv.oracles.identity_kept` uses (calibrated after the
analysis-by-synthesis refinement, see :func:`calibrate_identity`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semadv.worlds.faces import N_ID, FacesWorld

#: identity ids used for training; evaluation and calibration use ids ≥ this (unseen identities)
TRAIN_IDS = 5000


class ParamRegressor(nn.Module):
    """Image (B, 3, 64, 64) → normalised parameters (B, P) in [0, 1] (sigmoid head)."""

    def __init__(self, n_params: int = 32, width: int = 32) -> None:
        super().__init__()
        w = width

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=2, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.features = nn.Sequential(
            block(3, w), block(w, 2 * w), block(2 * w, 3 * w), block(3 * w, 4 * w), nn.Conv2d(4 * w, 2 * w, 1)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * 16, 128), nn.ReLU(), nn.Linear(128, n_params))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(x * 2 - 1)))


def scenes(n: int, seed: int, id_offset: int, n_identities: int) -> torch.Tensor:
    """``n`` face scenes of ``n_identities`` identities starting at ``id_offset`` (seeded)."""
    params, _ = FacesWorld().sample(n, n_identities, seed=seed, id_offset=id_offset)
    return params


def render(params: torch.Tensor, batch: int = 500) -> torch.Tensor:
    w = FacesWorld()
    with torch.no_grad():
        return torch.cat([w.render(params[i : i + batch]).image for i in range(0, len(params), batch)])


def normalise(params: torch.Tensor) -> torch.Tensor:
    w = FacesWorld()
    return (params - w.lo) / (w.hi - w.lo)


def fit(model: nn.Module, seed: int, epochs: int = 24, per_epoch: int = 6000) -> dict[str, Any]:
    """Train on fresh renders each epoch (seeded by (seed, epoch)); Adam with a cosine schedule."""
    from semadv.training import optimize

    g = torch.Generator().manual_seed(seed)
    model.train()
    opt_params = list(model.parameters())
    for epoch in range(epochs):
        p = scenes(per_epoch, seed * 1000 + epoch, 0, TRAIN_IDS)
        x, t = render(p), normalise(p)
        lr = 2e-3 * 0.5 * (1 + torch.cos(torch.tensor(epoch / epochs * torch.pi))).item() + 1e-4

        def loss_of(idx: torch.Tensor, x: torch.Tensor = x, t: torch.Tensor = t) -> torch.Tensor:
            return (model(x[idx]) - t[idx]).abs().mean()

        optimize(opt_params, loss_of, len(x), 1, 128, g, lr)
    model.eval()
    metrics = evaluate(model, 1000, seed + 1)
    metrics.update(calibrate_identity(model, CALIBRATION_IDS, 150, seed + 2))
    return metrics


#: identity ids of the threshold calibration (disjoint from training and from the audit's)
CALIBRATION_IDS = 8000
AUDIT_IDS = 9000


def pair_scenes(first_id: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two scenes of each of ``n`` identities ``first_id …`` with independent attributes: (a, b), each (n, 32).
    Row i of ``a`` and ``b`` is a same-identity pair; ``a`` against ``b.roll(1)`` a different-identity pair."""
    w = FacesWorld()
    ident = w.identity_vectors(torch.arange(n) + first_id)
    g = torch.Generator().manual_seed(seed)
    return torch.cat([ident, w.sample_attributes(n, g)], 1), torch.cat([ident, w.sample_attributes(n, g)], 1)


def best_threshold(same: torch.Tensor, diff: torch.Tensor) -> tuple[float, float]:
    """The threshold on a distance maximising agreement on same (≤) / different (>) pairs, placed midway
    between neighbouring observed distances; returns (threshold, agreement)."""
    v, order = torch.sort(torch.cat([same, diff]))
    lab = torch.cat([torch.ones_like(same), torch.zeros_like(diff)])[order]
    # agreement when the threshold lies just above v[k]: sames up to k correct, diffs after k correct
    correct = torch.cumsum(lab, 0) + (len(diff) - torch.cumsum(1 - lab, 0))
    k = int(torch.argmax(correct))
    thr = float((v[k] + v[k + 1]) / 2) if k + 1 < len(v) else float(v[k])
    return thr, float(correct[k]) / len(v)


def calibrate_identity(model: nn.Module, first_id: int, n: int, seed: int) -> dict[str, float]:
    """Calibrate :func:`semadv.oracles.identity_kept`'s threshold on ``n`` same and ``n`` different pairs of
    unseen identities, with the full inverter (regressor + refinement)."""
    from semadv.oracles import FaceInverter, identity_distance

    a, b = pair_scenes(first_id, n, seed)
    inv = FaceInverter(model)
    ia, ib = inv(render(a)), inv(render(b))
    same = identity_distance(ia, ib)
    diff = identity_distance(ia, ib.roll(1))
    thr, agree = best_threshold(same, diff)
    return {"identity_threshold": thr, "calibration_agreement": agree, "calibration_pairs": 2 * n}


def evaluate(model: nn.Module, n: int, seed: int) -> dict[str, Any]:
    """Per-parameter mean absolute error (normalised units) of the regressor alone on unseen identities."""
    w = FacesWorld()
    p = scenes(n, 10_000 + seed, TRAIN_IDS + 1000, 2000)
    with torch.no_grad():
        err = (model(render(p)) - normalise(p)).abs().mean(0)
    return {
        "identity_mae": float(err[:N_ID].mean()),
        "attribute_mae": float(err[N_ID:].mean()),
        "per_parameter_mae": {name: round(float(e), 4) for name, e in zip(w.names, err, strict=True)},
    }


def _register() -> None:
    from semadv.zoo.registry import ZooEntry, register_model

    register_model(
        ZooEntry(
            name="face-inverse",
            description="amortised inverse renderer of the faces world: image → all 32 scene parameters "
            "(normalised); first stage of semadv.oracles.FaceInverter",
            build=lambda: ParamRegressor(),
            fit=fit,
            evaluate=lambda m, n, seed: {"identity_mae": evaluate(m, n, seed)["identity_mae"]},
            data=f"fresh faces-world renders each epoch, identities 0–{TRAIN_IDS - 1}; evaluation on unseen ids",
            quick_metric="identity_mae",
            tolerance=0.03,
            half=True,
        )
    )


_register()
