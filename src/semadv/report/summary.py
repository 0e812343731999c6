"""Summaries of run directories (the data a report is built from; compute and reporting meet here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from semadv.campaign.store import Store
from semadv.errors import InputError
from semadv.stats import clopper_pearson


def find_runs(path: str | Path) -> list[Path]:
    """The run directory itself, or every run directory directly below ``path``."""
    p = Path(path)
    if (p / "records.sqlite").exists():
        return [p]
    runs = sorted(d for d in p.iterdir() if (d / "records.sqlite").exists()) if p.is_dir() else []
    if not runs:
        raise InputError(f"no run found in {p} (expected records.sqlite there or in its subdirectories)")
    return runs


def _rate(k: int, n: int) -> dict[str, float]:
    lo, hi = clopper_pearson(k, max(n, 1), 0.05) if n else (np.array(0.0), np.array(1.0))
    return {"k": k, "n": n, "rate": k / n if n else float("nan"), "ci_low": float(lo), "ci_high": float(hi)}


def _space(cfg: dict[str, Any]) -> Any:
    from semadv.errors import SemadvError
    from semadv.registry import build

    try:
        return build("space", cfg["space"]["name"], **cfg["space"]["params"])
    except (SemadvError, TypeError, ValueError, KeyError):
        return None


def _batches_total(cfg: dict[str, Any]) -> int:
    """Batches of this shard for runs written before the store kept the count (data.n, batch size)."""
    r = cfg["run"]
    n_batches = -(-int(cfg["data"]["n"]) // int(r["batch_size"]))
    return len(range(int(r.get("shard", 0)), n_batches, int(r.get("shards", 1))))


def summarize_run(run: Path) -> dict[str, Any]:
    """The numbers of one run directory (read-only). ``complete`` / ``batches_done`` / ``batches_total``
    say whether every batch is in; a run without any committed record is an error."""
    cfg = json.loads((run / "config.json").read_text())
    env = json.loads((run / "env.json").read_text()) if (run / "env.json").exists() else {}
    with Store(run / "records.sqlite", readonly=True) as store:
        recs = store.records()
        done = len(store.done_batches())
        total_meta = store.get_meta("batches_total")
    total = int(total_meta) if total_meta is not None else _batches_total(cfg)
    if not recs:
        raise InputError(f"run {run} has no records yet (0 of {total} batches committed): nothing to report")
    out: dict[str, Any] = {
        "run": str(run),
        "name": cfg.get("name", run.name),
        "config": cfg,
        "environment": env,
        "kind": cfg["run"]["kind"],
        "n": len(recs),
        "batches_done": done,
        "batches_total": total,
        "complete": done >= total,
    }
    if cfg["run"]["kind"] == "certify":
        correct = np.array([r["correct"] for r in recs], dtype=bool)
        radius = np.array([r["radius"] for r in recs], dtype=float)
        abst = np.array([r["prediction"] < 0 for r in recs], dtype=bool)
        rmax = float(radius.max()) if len(radius) else 0.0
        grid = np.linspace(0, rmax if rmax > 0 else 1.0, 11)
        ks = [int(np.sum(correct & (radius >= g))) for g in grid]
        curve = [_rate(k, len(recs)) for k in ks]
        out.update(
            {
                "accuracy": _rate(int(correct.sum()), len(recs)),
                "abstain": _rate(int(abst.sum()), len(recs)),
                "acr": float(np.where(correct, radius, 0).mean()) if len(recs) else float("nan"),
                "curve": {
                    "radius": grid.tolist(),
                    "certified_accuracy": [c["rate"] for c in curve],
                    "ci_low": [c["ci_low"] for c in curve],
                    "ci_high": [c["ci_high"] for c in curve],
                },
            }
        )
        return out
    clean_ok = np.array([not r["clean_reached"] for r in recs], dtype=bool)
    success = np.array([r["success"] for r in recs], dtype=bool)
    dist = np.array([r["distance"] for r in recs], dtype=float)
    broken = success & clean_ok
    robust = clean_ok & ~success
    dmax = float(dist[broken].max()) if broken.any() else 0.0
    grid = np.linspace(0, dmax if dmax > 0 else 1.0, 21)
    rob_curve = [_rate(int(np.sum(clean_ok & ~(success & (dist <= g)))), len(recs)) for g in grid]
    warnings = sorted({w for r in recs for w in r.get("warnings", [])})
    out.update(
        {
            "clean_accuracy": _rate(int(clean_ok.sum()), len(recs)),
            "success_rate": _rate(int(broken.sum()), int(clean_ok.sum())),
            "robust_accuracy": _rate(int(robust.sum()), len(recs)),
            "median_distance": float(np.median(dist[broken])) if broken.any() else float("nan"),
            "mean_queries": float(np.mean([r["queries"] for r in recs])) if recs else float("nan"),
            "warnings": warnings,
            "robust_curve": {
                "budget": grid.tolist(),
                "robust_accuracy": [c["rate"] for c in rob_curve],
                "ci_low": [c["ci_low"] for c in rob_curve],
                "ci_high": [c["ci_high"] for c in rob_curve],
            },
        }
    )
    out["parameter_change"] = _parameter_change(run, cfg, {r["idx"] for r, b in zip(recs, broken, strict=True) if b})
    transfer = run / "transfer.json"
    if transfer.exists():
        out["transfer"] = json.loads(transfer.read_text())
    return out


def _parameter_change(run: Path, cfg: dict[str, Any], broken: set[int]) -> dict[str, float] | None:
    """Mean |z_adv − z0| per parameter over successful samples, in the space's whitened units (fraction of
    each parameter's range for transform spaces) — low-dimensional spaces only."""
    space = _space(cfg)
    files = sorted((run / "params").glob("batch_*.safetensors")) if (run / "params").exists() else []
    deltas = []
    for f in files:
        t = load_file(str(f))
        if "z_adv" not in t:
            return None
        d = (t["z_adv"] - t["z0"]).reshape(len(t["idx"]), -1)
        if d.shape[1] > 32:
            return None
        d = (space.whiten(d) if space is not None else d).abs()
        keep = torch.tensor([int(i) in broken for i in t["idx"]], dtype=torch.bool)
        deltas.append(d[keep])
    if not deltas:
        return None
    D = torch.cat(deltas)
    if len(D) == 0:
        return None
    names = list(getattr(space, "names", None) or [])
    if len(names) != D.shape[1]:
        names = [f"z[{i}]" for i in range(D.shape[1])]
    return {n: float(v) for n, v in zip(names, D.mean(0).tolist(), strict=True)}
