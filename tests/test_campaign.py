"""Campaigns: config validation (incl. fuzzing), runner, resume, SIGKILL safety, Ray, report in a browser."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from semadv.campaign.config import ConfigError, load_config, parse_override
from semadv.campaign.runner import run_campaign
from semadv.campaign.store import Store
from semadv.report import build_report

ROOT = Path(__file__).parents[1]
BASE = {
    "name": "t",
    "victim": {"zoo": "digits-tinycnn"},
    "space": {"name": "pixel", "params": {"eps": 0.1}},
    "search": {"name": "pgd", "params": {"steps": 5, "alpha": 0.03}},
    "data": {"source": "digits", "n": 40},
    "run": {"batch_size": 8},
}


def _toml(d: dict, path: Path) -> Path:
    def val(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    lines = [f"{k} = {val(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_inheritance_overrides_and_component_replacement(tmp_path):
    _toml(BASE, tmp_path / "base.toml")
    child = {"base": "base.toml", "name": "child", "space": {"name": "transform", "params": {"rotation": [-5.0, 5.0]}}}
    _toml(child, tmp_path / "child.toml")
    cfg = load_config(tmp_path / "child.toml", ["search.params.steps=7", 'data.split="val"'])
    assert cfg.name == "child" and cfg.space.params == {"rotation": [-5.0, 5.0]}  # replaced, not merged with eps
    assert cfg.search.params == {"steps": 7, "alpha": 0.03} and cfg.data.split == "val"
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("a=hello") == (["a"], "hello")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"run": {"batch_size": "many"}}, "run.batch_size"),
        ({"bogus": 1}, "bogus: Extra inputs"),
        ({"space": {"name": "warp"}}, "space.name: unknown space 'warp'"),
        ({"space": {"name": "pixel", "params": {"eps": -1}}}, "space.params"),
        ({"victim": {"zoo": "a", "factory": "m:f"}}, "exactly one of zoo or factory"),
        ({"victim": {"factory": "os.system; rm -rf /"}}, "victim.factory"),
        ({"run": {"kind": "certify"}}, "certify: section required"),
        ({"data": {"n": 0}}, "data.n"),
    ],
)
def test_bad_configs_name_the_key(patch, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(data={**BASE, **patch})


_hostile = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    section=st.sampled_from(["victim", "space", "goal", "search", "data", "run", "certify", "name", "extra"]),
    key=st.one_of(
        st.sampled_from(
            [
                "zoo",
                "factory",
                "name",
                "params",
                "n",
                "split",
                "batch_size",
                "kind",
                "source",
                "eps",
                "sigma",
                "backend",
            ]
        ),
        st.text(max_size=12),
    ),
    value=_hostile,
    drop=st.booleans(),
)
def test_fuzzed_configs_fail_cleanly_and_write_nothing(tmp_path, section, key, value, drop):
    data = json.loads(json.dumps(BASE))
    if drop and section in data:
        del data[section]
    elif section in ("name",):
        data["name"] = value
    elif isinstance(data.get(section), dict) or section not in data:
        data.setdefault(section, {})
        if isinstance(data[section], dict):
            data[section][key] = value
    else:
        data[section] = value
    import tempfile

    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"  # hypothesis reuses tmp_path across examples
    try:
        cfg = load_config(data=data)
    except ConfigError as err:
        assert str(err).strip() and "Traceback" not in str(err)
        assert not out.exists()
        return
    # a config that validates must also run (tiny) or fail with one clear error, leaving no run dir
    cfg = load_config(
        data=data,
        overrides=["data.n=4", "run.batch_size=4", "search.params.steps=1"]
        if cfg.search.name == "pgd"
        else ["data.n=4", "run.batch_size=4"],
    )
    try:
        run_campaign(cfg, out)
    except ConfigError:
        assert not out.exists()


def test_run_resume_and_artefacts(tmp_path):
    cfg = load_config(data=BASE)
    out = run_campaign(cfg, tmp_path / "r")
    with Store(out / "records.sqlite") as s:
        recs = s.records()
        assert len(recs) == 40 and s.done_batches() == set(range(5))
    assert len(list((out / "images").glob("*_adv.png"))) == 40
    assert len(list((out / "params").glob("*.safetensors"))) == 5
    env = json.loads((out / "env.json").read_text())
    assert env["packages"]["torch"].startswith("2.") and "git_sha" in env
    # resume: nothing recomputed, records unchanged
    t = time.perf_counter()
    run_campaign(cfg, out)
    assert time.perf_counter() - t < 5
    with Store(out / "records.sqlite") as s:
        assert s.records() == recs
    with pytest.raises(ConfigError, match="different config"):
        run_campaign(load_config(data=BASE, overrides=["search.params.steps=6"]), out)


def test_sharding_partitions_batches(tmp_path):
    parts = []
    for shard in range(3):
        cfg = load_config(data=BASE, overrides=["run.shards=3", f"run.shard={shard}"])
        out = run_campaign(cfg, tmp_path / f"s{shard}")
        with Store(out / "records.sqlite") as s:
            parts.append({r["idx"] for r in s.records()})
    assert set().union(*parts) == set(range(40)) and sum(len(p) for p in parts) == 40


def test_bring_your_own_victim(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    from campaign_fixtures.byo import small_mlp

    torch.manual_seed(0)
    w = tmp_path / "mlp.safetensors"
    save_file({k: v.contiguous() for k, v in small_mlp().state_dict().items()}, str(w))
    data = {
        **BASE,
        "victim": {
            "factory": "campaign_fixtures.byo:small_mlp",
            "kwargs": {"hidden": 16},
            "weights": str(w),
            "mean": [0.5],
            "std": [0.25],
        },
    }
    with pytest.raises(ConfigError, match=r"not trusted.*--trust-module campaign_fixtures"):
        run_campaign(load_config(data=data), tmp_path / "untrusted")
    assert not (tmp_path / "untrusted").exists()
    out = run_campaign(load_config(data=data), tmp_path / "byo", trust_modules=["campaign_fixtures"])
    with Store(out / "records.sqlite") as s:
        assert len(s.records()) == 40
    bad = {**BASE, "victim": {"factory": "campaign_fixtures.byo:not_a_model"}}
    with pytest.raises(ConfigError, match=r"not an nn\.Module"):
        run_campaign(load_config(data=bad), tmp_path / "bad", trust_modules=["campaign_fixtures"])
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError, match="cannot import module"):
        run_campaign(
            load_config(data={**BASE, "victim": {"factory": "no_such_pkg.mod:f"}}),
            tmp_path / "bad2",
            trust_modules=["no_such_pkg"],
        )


def test_certify_campaign_and_report(tmp_path):
    data = {
        **BASE,
        "space": {"name": "transform", "params": {"rotation": [-10.0, 10.0], "scale": [0.9, 1.1]}},
        "run": {"kind": "certify", "batch_size": 20},
        "certify": {"sigma": 0.1, "n0": 20, "n": 100},
        "data": {"source": "digits", "n": 20},
    }
    out = run_campaign(load_config(data=data), tmp_path / "c")
    with Store(out / "records.sqlite") as s:
        recs = s.records()
    assert len(recs) == 20 and all("radius" in r for r in recs)
    html = build_report(out)
    text = html.read_text()
    assert "certified accuracy" in text and "<svg" in text


def test_report_shows_transfer_heatmap_when_present(tmp_path):
    out = run_campaign(load_config(data={**BASE, "data": {"source": "digits", "n": 8}}), tmp_path / "tr")
    (out / "transfer.json").write_text(
        json.dumps(
            {"title": "transfer <b>", "rows": ["A", "B"], "cols": ["A", "B"], "matrix": [[1.0, 0.25], [0.5, 1.0]]}
        )
    )
    text = build_report(out).read_text()
    assert "0.25" in text and "transfer &lt;b&gt;" in text and "<b>" not in text.replace("<body>", "")


def test_report_escapes_user_strings(tmp_path):
    data = {**BASE, "name": "<script>alert('x')</script>", "data": {"source": "digits", "n": 8}}
    out = run_campaign(load_config(data=data), tmp_path / "esc")
    text = build_report(out).read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary[0]["robust_accuracy"]["n"] == 8


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "semadv.cli", *args]


def _batches_done(db: Path) -> int:
    """Committed batches of a run being written (a plain reader of the WAL database; 0 before it exists)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM batches").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_at_random_moments_then_resume_gives_identical_records(tmp_path):
    n = 720
    cfg = {
        **BASE,
        "search": {"name": "pgd", "params": {"steps": 20, "alpha": 0.01}},
        "data": {"source": "digits", "split": "train", "n": n},
        "run": {"batch_size": 6},
    }
    path = _toml(cfg, tmp_path / "kill.toml")
    clean = tmp_path / "clean"
    subprocess.run(_cli("run", str(path), "--out", str(clean), "--quiet"), check=True, timeout=300)
    killed = tmp_path / "killed"
    db = killed / "records.sqlite"
    rng = random.Random(0)
    kills, progress = 0, []
    # Kill moments follow the run's own progress, not the clock (a fixed window of seconds missed the work
    # entirely on a slow start, e.g. CI without bytecode caching): the first two kills hit the start-up at
    # random moments, the others wait for 1–8 more committed batches and then a random 0–0.4 s into the next
    # batch (artefacts half-written, transaction open, …).
    for i in range(30):
        if kills >= 10:
            break
        before = _batches_done(db)
        p = subprocess.Popen(
            _cli("run", str(path), "--out", str(killed), "--quiet"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if i < 2:
            time.sleep(rng.uniform(0.2, 1.5))
        else:
            target, deadline = before + rng.randint(1, 8), time.monotonic() + 120
            while p.poll() is None and _batches_done(db) < target and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.4))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        progress.append(_batches_done(db))
    subprocess.run(_cli("run", str(path), "--out", str(killed), "--quiet"), check=True, timeout=300)
    assert kills >= 10
    assert any(0 < k < n // 6 for k in progress)  # some kills landed in the middle of the work
    with Store(clean / "records.sqlite") as a, Store(killed / "records.sqlite") as b:
        ra, rb = a.records(), b.records()
    assert len(rb) == n and [r["idx"] for r in rb] == list(range(n))
    assert ra == rb  # none lost, none duplicated, identical to the uninterrupted run
    assert len(list((killed / "images").glob("*_adv.png"))) == n


ray = pytest.importorskip("ray", reason="the distributed extra is installed by `make test`")


def test_ray_backend_matches_local_and_retries_a_killed_worker(tmp_path, monkeypatch):
    cfg = load_config(data={**BASE, "data": {"source": "digits", "n": 48}})
    local = run_campaign(cfg, tmp_path / "local")
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("SEMADV_TEST_KILL_BATCH", "2")
    monkeypatch.setenv("SEMADV_TEST_KILL_MARKER", str(marker))
    rcfg = load_config(
        data={**BASE, "data": {"source": "digits", "n": 48}}, overrides=['run.backend="ray"', "run.workers=2"]
    )
    out = run_campaign(rcfg, tmp_path / "ray")
    assert marker.exists()  # a worker process really died on batch 2 and the call was retried
    with Store(local / "records.sqlite") as a, Store(out / "records.sqlite") as b:
        assert a.records() == b.records()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian chromium not installed")
def test_report_renders_in_headless_chromium(tmp_path):
    assert CHROMIUM is not None, "CI must install Debian chromium (.ci/run does)"
    cfg = load_config(
        data={
            **BASE,
            "space": {"name": "transform", "params": {"rotation": [-30.0, 30.0], "scale": [0.8, 1.2]}},
            "search": {"name": "pgd", "params": {"steps": 10, "alpha": 0.1}},
        }
    )
    out = run_campaign(cfg, tmp_path / "r")
    html = build_report(out)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1800",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln]
    assert console == [], console
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    chroma = img.max(axis=2) - img.min(axis=2)  # coloured pixels: chart lines, bands and bars (the digits are grey)
    shutil.copy(shot, ROOT / "docs" / "report_screenshot.png") if os.environ.get("SEMADV_KEEP_SCREENSHOT") else None
    assert img.shape == (1800, 1200, 3) and int((chroma > 25).sum()) > 2000, int((chroma > 25).sum())


def test_a_config_cannot_run_untrusted_code(tmp_path):
    """Issue 24: `factory = "os:system"` used to run the shell command. Untrusted modules are refused before
    they are imported, with one line naming the flag; stdlib too."""
    from semadv.campaign.victims import import_object, is_trusted

    marker = tmp_path / "pwned"
    data = {**BASE, "victim": {"factory": "os:system", "kwargs": {"command": f"touch {marker}"}}}
    with pytest.raises(ConfigError, match=r"'os' is not trusted.*--trust-module os"):
        run_campaign(load_config(data=data), tmp_path / "run")
    assert not marker.exists() and not (tmp_path / "run").exists()
    assert is_trusted("semadv.campaign.victims") and is_trusted("mypkg.models", ["mypkg"])
    assert not is_trusted("mypkgx.models", ["mypkg"]) and not is_trusted("subprocess")
    assert callable(import_object("semadv.campaign.victims:onnx_model"))
    res = subprocess.run(
        [sys.executable, "-m", "semadv.cli", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "--trust-module" in res.stdout
