"""World rendering speed on this machine (targets: faces fwd ≥ 500 img/s, fwd+bwd ≥ 100 img/s at batch 256;
streets fwd ≥ 200 img/s)."""

from __future__ import annotations

import time

import torch

from semadv.worlds.faces import FacesWorld
from semadv.worlds.streets import StreetsWorld

torch.set_num_threads(2)


def rate(fn, n: int, reps: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    faces = FacesWorld()
    P, _ = faces.sample(256, 64, seed=0)
    with torch.no_grad():
        f_fwd = rate(lambda: faces.render(P), 256)

    def fb():
        q = P.clone().requires_grad_(True)
        faces.render(q).image.sum().backward()

    f_bwd = rate(fb, 256)
    streets = StreetsWorld()
    S = streets.sample(256, seed=0)
    with torch.no_grad():
        s_fwd = rate(lambda: streets.render(S), 256)
        s_lab = rate(lambda: streets.render(S, with_labels=True), 256)
    print(f"faces   64x64  forward           {f_fwd:7.0f} img/s (target >= 500)")
    print(f"faces   64x64  forward+backward  {f_bwd:7.0f} img/s (target >= 100)")
    print(f"streets 64x128 forward           {s_fwd:7.0f} img/s (target >= 200)")
    print(f"streets 64x128 forward + labels  {s_lab:7.0f} img/s")


if __name__ == "__main__":
    main()
