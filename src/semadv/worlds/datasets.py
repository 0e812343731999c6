"""Deterministic datasets from the worlds: (world, split, seed, n) → tensors, optionally cached as .npz.

* **faces** — splits use disjoint identity ranges (train ids 0–799, val 800–899, test 900–999 by default),
  so verification can be evaluated on held-out identities. Keys: ``image`` (n, 3, 64, 64) float32,
  ``params`` (n, 32), ``identity`` (n,), ``binary`` (n, 14) bool, ``landmarks`` (n, 23, 2) pixels,
  ``face_box`` (n, 4) pixels.
* **streets** — keys: ``image`` (n, 3, 64, 128), ``params``, ``labels`` (n, 64, 128) int64,
  ``instances`` (n, 64, 128) int64, ``boxes`` (n, 6, 4) pixels (NaN: slot not visible), ``box_classes``.
* **digits** — scikit-learn's 1,797 real 8×8 digits upsampled to 16×16 (bilinear), fixed 75/25 split
  by a seeded permutation (seed 0): keys ``image`` (n, 1, 16, 16), ``label``.

Caches are written with ``numpy.savez_compressed`` and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from semadv.checks import check_int
from semadv.errors import InputError

SPLITS = ("train", "val", "test")
FACE_ID_RANGES = {"train": (0, 800), "val": (800, 900), "test": (900, 1000)}
WORLDS = ("faces", "streets", "digits")


def _split_seed(world: str, split: str, seed: int) -> int:
    h = hashlib.sha256(f"{world}/{split}/{seed}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def generate(
    world: str, split: str = "train", seed: int = 0, n: int = 256, cache_dir: str | Path | None = None, chunk: int = 256
) -> dict[str, torch.Tensor]:
    """Generate (or load from ``cache_dir``) ``n`` samples of ``world`` for ``split``; deterministic."""
    if world not in WORLDS:
        raise InputError(f"unknown world {world!r}; choose one of {', '.join(WORLDS)}")
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    check_int(n, "n")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{world}-{split}-seed{seed}-n{n}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                return {k: torch.from_numpy(f[k]) for k in f.files}
    data = _make(world, split, seed, n, chunk)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{k: v.numpy() for k, v in data.items()})  # type: ignore[arg-type]
        tmp.replace(path)
    return data


def _make(world: str, split: str, seed: int, n: int, chunk: int) -> dict[str, torch.Tensor]:
    s = _split_seed(world, split, seed)
    if world == "digits":
        from semadv.worlds.digits import load_digits

        xtr, ytr, xte, yte = load_digits(size=16, seed=0)
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        if split == "val":
            x, y = x[: len(x) // 2], y[: len(y) // 2]
        if n > len(y):
            raise InputError(f"digits {split} has {len(y)} images; asked for n={n}")
        return {"image": x[:n], "label": y[:n]}
    out: dict[str, list[torch.Tensor]] = {}
    if world == "faces":
        from semadv.worlds.faces import FacesWorld

        fw = FacesWorld()
        lo, hi = FACE_ID_RANGES[split]
        params, ids = fw.sample(n, hi - lo, seed=s, id_offset=lo)
        with torch.no_grad():
            for i in range(0, n, chunk):
                r = fw.render(params[i : i + chunk], with_labels=True)
                out.setdefault("image", []).append(r.image)
                for k in ("binary", "landmarks", "face_box"):
                    out.setdefault(k, []).append(r.extras[k])
        data = {k: torch.cat(v) for k, v in out.items()}
        data["params"], data["identity"] = params, ids
        return data
    from semadv.worlds.streets import StreetsWorld

    sw = StreetsWorld()
    params = sw.sample(n, seed=s)
    with torch.no_grad():
        for i in range(0, n, chunk):
            r = sw.render(params[i : i + chunk], with_labels=True)
            if r.labels is None or r.instances is None:
                raise RuntimeError("streets render returned no label maps")
            out.setdefault("image", []).append(r.image)
            out.setdefault("labels", []).append(r.labels)
            out.setdefault("instances", []).append(r.instances)
            out.setdefault("boxes", []).append(r.extras["boxes"])
            out.setdefault("box_classes", []).append(r.extras["box_classes"])
    data = {k: torch.cat(v) for k, v in out.items()}
    data["params"] = params
    return data


class WorldDataset(Dataset):
    """A torch ``Dataset`` over a generated dict: item ``i`` is ``{key: tensor[i]}``."""

    def __init__(self, data: dict[str, torch.Tensor]) -> None:
        sizes = {len(v) for v in data.values()}
        if len(sizes) != 1:
            raise InputError(f"all tensors need the same length; got {sorted(sizes)}")
        self.data = data
        self.n = sizes.pop()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.data.items()}
