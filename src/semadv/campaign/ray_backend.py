"""Distributed backend on Ray (``pip install semadv[distributed]``).

One actor per worker builds the victim and the attack once; batches are dispatched with an
``ActorPool`` and the results flow back to the driver, which alone writes artefacts and commits records
(the same store and the same per-batch atomicity as the local backend). Actors restart and retry their
calls when their process dies (``max_restarts``, ``max_task_retries``). A local cluster
(:func:`semadv.campaign.ray_local.local_cluster`) listens on 127.0.0.1 only, has no dashboard and leaves no
process behind; ``run.address`` connects to an existing cluster instead (see docs/cli.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from semadv.campaign.config import CampaignConfig
from semadv.campaign.ray_local import local_cluster
from semadv.campaign.runner import Batch, Result, Worker


class _RayWorker:
    def __init__(self, cfg_json: str, threads: int, trust_modules: tuple[str, ...] = ()) -> None:
        import torch

        from semadv.campaign.config import CampaignConfig

        torch.set_num_threads(max(1, threads))
        self.worker = Worker(CampaignConfig.model_validate_json(cfg_json), trust_modules)

    def process(self, b: Batch) -> tuple[int, list[dict[str, Any]], dict[str, Any], float]:
        _maybe_crash_for_tests(b.batch)
        t0 = time.perf_counter()
        rows, art = self.worker.process(b)
        return b.batch, rows, art, time.perf_counter() - t0


def _maybe_crash_for_tests(batch: int) -> None:
    """Test hook: kill this worker process once, on batch ``SEMADV_TEST_KILL_BATCH``, to exercise retries.
    The marker file ``SEMADV_TEST_KILL_MARKER`` makes it happen only once across restarts."""
    target, marker = os.environ.get("SEMADV_TEST_KILL_BATCH"), os.environ.get("SEMADV_TEST_KILL_MARKER")
    if target is not None and marker is not None and int(target) == batch and not os.path.exists(marker):
        Path(marker).write_text("killed")
        os._exit(1)


def ray_results(
    cfg: CampaignConfig, todo: list[Batch], trust_modules: Sequence[str] = ()
) -> Generator[Result, None, None]:
    """Process ``todo`` on Ray actors, yielding ``(batch, rows, artefacts, seconds)`` as batches finish
    (in completion order); the caller commits them. A local cluster started here is shut down when
    the iterator is exhausted or closed."""
    import ray

    env = {k: v for k, v in os.environ.items() if k.startswith("SEMADV_TEST_")}
    with ExitStack() as stack:
        if ray.is_initialized():
            pass  # the caller's cluster: used as is, left running
        elif cfg.run.address:
            ray.init(address=cfg.run.address, log_to_driver=False, runtime_env={"env_vars": env})
            stack.callback(ray.shutdown)
        else:
            stack.enter_context(local_cluster(cfg.run.workers, env))
        if not todo:
            return
        from ray.util import ActorPool

        remote = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(_RayWorker)
        actors = [remote.remote(cfg.model_dump_json(), 1, tuple(trust_modules)) for _ in range(cfg.run.workers)]
        pool = ActorPool(actors)
        yield from pool.map_unordered(lambda a, b: a.process.remote(b), todo)
