"""A local Ray cluster that stays on this machine and dies with its driver.

Two facts about Ray (2.60, measured; see tests/test_ray_local.py):

* ``ray.init(_node_ip_address="127.0.0.1")`` does not keep Ray local: Ray "resolves" a loopback node address to
  the machine's external one, and its gRPC servers (GCS, raylet, core workers) and HTTP agents then listen on
  every interface or on the external address. Ray's own switch for local-only clusters (the one it uses on
  macOS and Windows, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) makes the node address 127.0.0.1, and every Ray
  listener then binds 127.0.0.1 only.
* The GCS server and the raylet share the driver's fate (``PR_SET_PDEATHSIG``), but the raylet's children —
  the dashboard and runtime-env agents — do not: after ``kill -9`` of the driver they live on for minutes.
  A guard process started beside the cluster records the driver's Ray descendants while the driver lives and
  kills whatever is left of them as soon as the driver goes (it notices through the end of a pipe, which the
  kernel closes even on SIGKILL) or shuts the cluster down.

This file doubles as the guard's script (``python ray_local.py --guard``): it imports only the standard
library at module level so that the guard starts in milliseconds.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
GUARD_TICK_S = 0.2


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """``pid -> (parent pid, start time in clock ticks, command line)`` for every process we can read."""
    table: dict[int, tuple[int, int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
        table[int(name)] = (int(fields[1]), int(fields[19]), cmd)
    return table


def _descendants(table: dict[int, tuple[int, int, str]], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def is_ray_process(cmdline: str, ray_dir: str) -> bool:
    """A process Ray started: a worker or agent (titled ``ray::…``) or a binary or script of the Ray package."""
    return cmdline.startswith("ray::") or (bool(ray_dir) and ray_dir in cmdline)


def ray_descendants(root: int, ray_dir: str) -> dict[int, int]:
    """The Ray processes below ``root``: ``pid -> start time`` (the start time tells a reused pid apart)."""
    table = _proc_table()
    return {
        p: table[p][1] for p in _descendants(table, {root}) if p != os.getpid() and is_ray_process(table[p][2], ray_dir)
    }


def _guard(driver: int, ray_dir: str) -> None:
    """Record the driver's Ray descendants until stdin ends (driver exit, crash or SIGKILL), then kill the
    recorded ones and everything below them that is still alive."""
    seen: dict[int, int] = {}
    while True:
        seen.update(ray_descendants(driver, ray_dir))
        ready, _, _ = select.select([sys.stdin], [], [], GUARD_TICK_S)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break
    table = _proc_table()
    alive = {p for p, start in seen.items() if p in table and table[p][1] == start}
    for pid in alive | {p for p in _descendants(table, alive) if is_ray_process(table[p][2], ray_dir)}:
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def local_cluster(num_cpus: int, env_vars: dict[str, str] | None = None) -> Iterator[Any]:
    """Start a Ray cluster on this machine for the duration of the block: listeners on 127.0.0.1 only, no
    dashboard web UI, no process left behind when the block ends or the driver dies (Linux: a guard process;
    elsewhere only Ray's own shutdown). Yields the ``ray`` module."""
    saved_env = os.environ.get(LOCAL_ONLY_ENV)
    os.environ[LOCAL_ONLY_ENV] = "0"  # read by Ray at import and inherited by every process it starts
    import ray
    from ray._private import ray_constants

    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the variable was set

    guard = None
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        ray_dir = os.path.dirname(os.path.abspath(ray.__file__))
        guard = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--guard", str(os.getpid()), ray_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the driver's group must not kill the guard before it sweeps
        )
    try:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": dict(env_vars or {})},
        )
        yield ray
    finally:
        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            if guard is not None and guard.stdin is not None:
                guard.stdin.close()  # the guard sweeps what shutdown left and exits
                try:
                    guard.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    guard.kill()
            # a later ray.init(address=…) in this process must see Ray's defaults again
            ray_constants.ENABLE_RAY_CLUSTER = saved_flag
            if saved_env is None:
                os.environ.pop(LOCAL_ONLY_ENV, None)
            else:
                os.environ[LOCAL_ONLY_ENV] = saved_env


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--guard":
    _guard(int(sys.argv[2]), sys.argv[3])
