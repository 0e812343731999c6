"""Campaign runner: stream a dataset through an attack or a certification in fixed batches.

Batches are fixed by position (batch k = samples [k·B, (k+1)·B) of the selected indices) and seeded by
(run seed, k), so a batch always gives the same records whether the run was interrupted or not. Each batch
writes its artefacts first (atomic renames) and then commits its records and its marker in one SQLite
transaction; a rerun skips committed batches (resume) and rewrites any orphaned artefacts identically.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

import semadv
from semadv.campaign.config import CampaignConfig, ConfigError
from semadv.campaign.store import Store
from semadv.campaign.victims import build_victim
from semadv.registry import build
from semadv.runner import evaluate
from semadv.worlds.datasets import generate

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Batch:
    batch: int
    idx: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor | None


def environment() -> dict[str, Any]:
    """Package versions, git SHA, device and host facts saved with every run."""
    versions: dict[str, str | None] = {}
    for pkg in ("torch", "numpy", "scipy", "kornia", "pydantic", "safetensors"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        sha = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(semadv.__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        sha = None
    return {
        "semadv": semadv.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_sha": sha,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def load_data(cfg: CampaignConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    d = generate(cfg.data.source, cfg.data.split, cfg.data.seed, cfg.data.n)
    y = d.get("label", d.get("identity"))
    return d["image"], y


def batches(cfg: CampaignConfig, x: torch.Tensor, y: torch.Tensor | None) -> Iterator[Batch]:
    """Deterministic fixed-size batches of the dataset; with ``run.shards > 1`` only the batches whose id
    is ``run.shard`` modulo ``run.shards`` (round-robin sharding)."""
    n = len(x)
    bs = cfg.run.batch_size
    for k, start in enumerate(range(0, n, bs)):
        if k % cfg.run.shards != cfg.run.shard:
            continue
        idx = torch.arange(start, min(n, start + bs))
        yield Batch(k, idx, x[idx], None if y is None else y[idx])


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


class Worker:
    """Everything needed to process batches: the victim and the composed attack or smoother."""

    def __init__(self, cfg: CampaignConfig, trust_modules: Sequence[str] = ()) -> None:
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.cfg = cfg
        self.victim = build_victim(cfg.victim, trust_modules)
        try:
            self.space = build("space", cfg.space.name, **cfg.space.params)
            self.goal = build("goal", cfg.goal.name, **cfg.goal.params)
            self.search = build("search", cfg.search.name, **cfg.search.params)
        except TypeError as err:
            raise ConfigError(f"component parameters rejected: {err}") from err
        from semadv.attack import Attack

        self.attack = Attack(self.goal, self.space, self.search)

    def process(self, b: Batch) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Records and artefacts (images, parameters) of one batch."""
        g = torch.Generator().manual_seed(self.cfg.run.seed * 1_000_003 + b.batch)
        if self.cfg.run.kind == "certify":
            return self._certify(b, g)
        r = evaluate(self.attack, self.victim, (b.x, b.y), batch=len(b.x), generator=g)
        rows = []
        for j, i in enumerate(b.idx.tolist()):
            rows.append(
                {
                    "idx": i,
                    "label": None if b.y is None else int(b.y[j]),
                    "success": bool(r.success[j]),
                    "clean_reached": bool(r.clean_reached[j]),
                    "distance": float(r.distance[j]),
                    "loss": float(r.loss[j]),
                    "queries": int(r.queries[j]),
                    "steps": int(r.steps[j]),
                }
            )
        if rows:
            rows[0]["warnings"] = list(r.warnings)
        art = {"x": b.x, "x_adv": r.x_adv, "z0": r.z0, "z_adv": r.z_adv, "idx": b.idx}
        return rows, art

    def _certify(self, b: Batch, g: torch.Generator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        from semadv.certify import Isotropic, LogitsClassifier, Smoothing

        c = self.cfg.certify
        if c is None or b.y is None:
            raise ConfigError("certify runs need a [certify] section and labelled data")
        sm = Smoothing(
            self.space, LogitsClassifier(self.victim), Isotropic(c.sigma), self._classes(b), coordinates=c.coordinates
        )
        cert = sm.certify(b.x, c.n0, c.n, c.alpha, g)
        ok = cert.correct(b.y)
        rows = [
            {
                "idx": i,
                "label": int(b.y[j]),
                "prediction": int(cert.prediction[j]),
                "p_lower": float(cert.p_lower[j]),
                "radius": float(cert.radius[j]),
                "correct": bool(ok[j]),
            }
            for j, i in enumerate(b.idx.tolist())
        ]
        return rows, {"x": b.x, "idx": b.idx}

    def _classes(self, b: Batch) -> int:
        with torch.no_grad():
            return int(self.victim(b.x[:1]).shape[1])


def _save_png(image: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    image.save(tmp, format="PNG")
    os.replace(tmp, path)


def write_artefacts(out: Path, batch: int, art: dict[str, Any], save_images: bool) -> None:
    """Adversarial images as PNG and parameters as safetensors, each written atomically."""
    from semadv.worlds.grid import to_pil

    pdir = out / "params"
    pdir.mkdir(exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in art.items() if k in ("z0", "z_adv", "idx")}
    if tensors:
        _atomic_write(pdir / f"batch_{batch:05d}.safetensors", lambda p: save_file(tensors, str(p)))
    if save_images:
        idir = out / "images"
        idir.mkdir(exist_ok=True)
        for j, i in enumerate(art["idx"].tolist()):
            for key, suffix in (("x", "orig"), ("x_adv", "adv")):
                if key in art:
                    _save_png(to_pil(art[key][j]), idir / f"{i:06d}_{suffix}.png")


@contextmanager
def open_run_dir(cfg: CampaignConfig, out: Path, batches_total: int) -> Iterator[Store]:
    """The run directory's store, held under an exclusive lock for the whole run (issue 24).

    - A second run on the same directory fails at once with one line (``flock`` on ``OUT/.lock``; the
      kernel releases it when the holder dies, so a killed run never leaves a stale lock).
    - ``config.json`` binds the directory only once a batch is committed: a directory with no committed
      batch (a run that failed early) is re-used by the corrected config; one with records refuses a
      different config (resume means the same config).
    - A directory this call created is removed again if the run fails before committing anything."""
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".lock", "a")  # noqa: SIM115  (held open for the whole run)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(
            f"{out} is in use by another semadv run (it holds {out / '.lock'}); wait for it or choose another --out"
        ) from None
    store: Store | None = None
    try:
        store = Store(out / "records.sqlite")
        cfg_text = cfg.model_dump_json(indent=2)
        cfg_path = out / "config.json"
        if cfg_path.exists() and store.done_batches() and json.loads(cfg_path.read_text()) != json.loads(cfg_text):
            raise ConfigError(f"{out} holds a run with a different config; choose another output directory")
        _atomic_write(cfg_path, lambda p: p.write_text(cfg_text))
        _atomic_write(out / "env.json", lambda p: p.write_text(json.dumps(environment(), indent=2)))
        store.set_meta("batches_total", str(batches_total))
        yield store
    except BaseException:
        committed = store is not None and bool(store.done_batches())
        if store is not None:
            store.close()
            store = None
        if not existed and not committed:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if store is not None:
            store.close()
        lock.close()


Result = tuple[int, list[dict[str, Any]], dict[str, Any], float]


def _local_results(worker: Worker, todo: list[Batch]) -> Generator[Result, None, None]:
    for b in todo:
        t0 = time.perf_counter()
        rows, art = worker.process(b)
        yield b.batch, rows, art, time.perf_counter() - t0


def run_campaign(
    cfg: CampaignConfig, out_dir: str | Path, progress: Progress | None = None, trust_modules: Sequence[str] = ()
) -> Path:
    """Run (or resume) ``cfg`` into ``out_dir``; returns the run directory. ``trust_modules``: packages
    whose factories the config may import and call (nothing else outside semadv is imported).

    Everything that can be checked before the first batch is (victim, components, data) before the
    directory is touched; then batches are processed locally or on Ray and committed by this process."""
    out = Path(out_dir)
    worker = Worker(cfg, trust_modules)  # fails on a bad victim or component before anything is written
    x, y = load_data(cfg)
    all_batches = list(batches(cfg, x, y))
    if not all_batches:
        raise ConfigError(
            f"the run has no batches (data.n = {cfg.data.n}, run.shard {cfg.run.shard} of {cfg.run.shards})"
        )
    with open_run_dir(cfg, out, len(all_batches)) as store:
        done = store.done_batches()
        todo = [b for b in all_batches if b.batch not in done]
        finished = len(all_batches) - len(todo)
        if cfg.run.backend == "ray":
            from semadv.campaign.ray_backend import ray_results

            results = ray_results(cfg, todo, trust_modules)
        else:
            results = _local_results(worker, todo)
        with closing(results):  # a Ray cluster started for this run stops even if a commit fails
            for batch_id, rows, art, seconds in results:
                write_artefacts(out, batch_id, art, cfg.run.save_images)
                store.commit_batch(batch_id, rows, seconds)
                finished += 1
                if progress is not None:
                    progress(finished, len(all_batches))
    return out
