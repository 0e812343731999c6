"""A local Ray cluster started by semadv stays on the loopback interface and leaves nothing behind (issue 24.2).

Both tests go through the backend's public path (``ray_results``). On the code before this change the first
fails (GCS, raylet and core workers listened on ``::``, the runtime-env agent on the external address) and
the second fails (the dashboard and runtime-env agents outlived a SIGKILLed driver by minutes)."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the distributed extra is installed by `make test`")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

from semadv.campaign.config import load_config  # noqa: E402
from semadv.campaign.ray_backend import ray_results  # noqa: E402
from semadv.campaign.ray_local import _proc_table, ray_descendants  # noqa: E402
from semadv.campaign.runner import batches, load_data  # noqa: E402

RAY_DIR = os.path.dirname(os.path.abspath(ray.__file__))
CFG = {
    "name": "ray-local",
    "victim": {"zoo": "digits-tinycnn"},
    "space": {"name": "pixel", "params": {"eps": 0.1}},
    "search": {"name": "pgd", "params": {"steps": 2, "alpha": 0.03}},
    "data": {"source": "digits", "n": 16},
    "run": {"batch_size": 8, "backend": "ray", "workers": 2},
}


def _hex_addr(hexaddr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # /proc/net/tcp6 prints the address as four host-order (little-endian) 32-bit words
    return ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def listening_sockets(pids: set[int]) -> list[tuple[int, str, str]]:
    """``(pid, protocol, address)`` of every listening TCP socket and bound UDP socket that ``pids`` hold."""
    inode_pid: dict[str, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode_pid[target[8:-1]] = pid
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{proto}") as f:
            rows = f.read().splitlines()[1:]
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if inode in inode_pid and (state == "0A" or proto.startswith("udp")):  # 0A = LISTEN
                hexaddr, port = local.split(":")
                out.append((inode_pid[inode], proto, f"{_hex_addr(hexaddr)}:{int(port, 16)}"))
    return out


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.rsplit(":", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_hex_address_decoding_reads_proc_net_format():
    assert str(_hex_addr("0100007F")) == "127.0.0.1"
    assert _hex_addr("0000000000000000FFFF00000100007F") == ipaddress.ip_address("::ffff:127.0.0.1")
    assert str(_hex_addr("00000000000000000000000000000000")) == "::"
    assert _is_loopback("::ffff:127.0.0.1:80") and _is_loopback("127.0.0.1:1") and not _is_loopback(":::80")
    assert not _is_loopback("192.0.2.2:5")


def test_local_cluster_listens_on_loopback_only_and_has_no_dashboard():
    cfg = load_config(data=CFG)
    x, y = load_data(cfg)
    results = ray_results(cfg, list(batches(cfg, x, y)))
    try:
        first = next(results)  # the cluster is up and an actor has run a batch
        assert len(first[1]) == 8
        procs = ray_descendants(os.getpid(), RAY_DIR)
        table = _proc_table()
        cmds = {p: table[p][2] for p in procs if p in table}
        assert any("gcs_server" in c for c in cmds.values()) and any("raylet" in c for c in cmds.values())
        socks = listening_sockets(set(procs))
        # gcs_server, raylet (two servers) and core workers at least: the scan really sees Ray's listeners
        assert len(socks) >= 4, socks
        public = [(p, proto, a, cmds.get(p, "?")[:60]) for p, proto, a in socks if not _is_loopback(a)]
        assert public == [], f"Ray listens beyond loopback: {public}"
        # no dashboard web UI: Ray's minimal API-server process may run, but nothing serves HTTP on 8265
        assert not any(a.endswith(":8265") for _, _, a in socks)
        assert not any("dashboard.py" in c and "--minimal" not in c for c in cmds.values()), cmds
    finally:
        results.close()
    time.sleep(1.0)
    assert ray_descendants(os.getpid(), RAY_DIR) == {}, "ray processes left after the cluster was shut down"
    assert not ray.is_initialized()


DRIVER = """
import os, sys
from semadv.campaign.config import load_config
from semadv.campaign.ray_backend import ray_results
from semadv.campaign.runner import batches, load_data
cfg = load_config(data={cfg!r})
x, y = load_data(cfg)
results = ray_results(cfg, list(batches(cfg, x, y)))
next(results)
print("READY", flush=True)
sys.stdin.read()  # wait to be killed
"""


def _alive(pid: int, start: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19]) == start and fields[0] != "Z"


def test_no_ray_process_outlives_a_killed_driver(tmp_path: Path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(cfg=CFG)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        deadline = time.time() + 120
        line = b""
        while time.time() < deadline and b"READY" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert b"READY" in line, "the driver did not start its cluster"
        time.sleep(1.0)  # the agents are up by now
        ray_procs = ray_descendants(proc.pid, RAY_DIR)
        table = _proc_table()
        # the raylet's agents are the processes that used to survive: the test must see them
        assert any(table[p][2].startswith("ray::") and "Agent" in table[p][2] for p in ray_procs if p in table)
        assert len(ray_procs) >= 4, ray_procs
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 20
        while time.time() < deadline and any(_alive(p, s) for p, s in ray_procs.items()):
            time.sleep(0.25)
        left = {p: table[p][2][:60] for p, s in ray_procs.items() if _alive(p, s)}
        assert left == {}, f"Ray processes outlived the driver by 20 s: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
