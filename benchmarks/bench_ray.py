"""Ray backend scaling on this machine: the same campaign with 1 and 2 workers (one Ray cluster of 2 CPUs,
started once; each worker uses 1 torch thread). Prints wall times and parallel efficiency T1 / (2·T2)
(target ≥ 0.8)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import ray

from semadv.campaign.config import load_config
from semadv.campaign.runner import run_campaign

CFG = {
    "name": "ray-bench",
    "victim": {"zoo": "digits-tinycnn"},
    "space": {
        "name": "transform",
        "params": {
            "rotation": [-10.0, 10.0],
            "scale": [0.9, 1.1],
            "translate_x": [-0.05, 0.05],
            "brightness": [-0.1, 0.1],
        },
    },
    "search": {"name": "pgd", "params": {"steps": 40, "alpha": 0.05, "restarts": 4, "early_stop": False}},
    "data": {"source": "digits", "n": 449},
    "run": {"batch_size": 16, "backend": "ray", "save_images": False, "threads": 1},
}


def main() -> None:
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    times = {}
    try:
        for workers in (1, 2):
            cfg = load_config(data=CFG, overrides=[f"run.workers={workers}"])
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                run_campaign(cfg, Path(d) / "run")
                times[workers] = time.perf_counter() - t
    finally:
        ray.shutdown()
    eff = times[1] / (2 * times[2])
    print("Ray campaign, 449 test digits x transform PGD (40 steps, 4 restarts, no early stop), 29 batches")
    print(f"  1 worker   {times[1]:6.2f} s")
    print(f"  2 workers  {times[2]:6.2f} s")
    print(f"  speed-up {times[1] / times[2]:.2f}x, parallel efficiency {eff:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
