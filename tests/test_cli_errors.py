"""Issue 24: every user-facing failure is one markup-safe line on stderr with exit code 2; tracebacks only with
``--debug``; runs are locked, validated before anything is written, reported read-only and marked partial.

Each test here failed on the code before issue 24 (a traceback, exit 1, a clamp, a race or a silent result)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from typer.testing import CliRunner

import semadv
from semadv.campaign.config import ConfigError, load_config
from semadv.campaign.runner import open_run_dir, run_campaign
from semadv.cli import app
from semadv.errors import InputError, SemadvError
from semadv.worlds.digits import load_digits

ROOT = Path(__file__).parents[1]
BASE = {
    "name": "t",
    "victim": {"zoo": "digits-tinycnn"},
    "space": {"name": "pixel", "params": {"eps": 0.1}},
    "search": {"name": "pgd", "params": {"steps": 2, "alpha": 0.03}},
    "data": {"source": "digits", "n": 20},
    "run": {"batch_size": 4},
}


def _val(v: object) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_val(x)}" for k, x in v.items()) + " }"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def toml(d: dict, path: Path) -> Path:
    lines = [f"{k} = {_val(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{json.dumps(str(kk))} = {_val(vv)}" for kk, vv in v.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line(res, code: int, *needles: str) -> str:
    """The failure contract: exit ``code``, exactly one non-empty stderr line, no traceback, needles in it."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr, res.exception)
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.output + res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tree_state(d: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(d)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ unreadable inputs


def test_config_that_is_a_directory_or_missing_is_one_line(tmp_path):
    (tmp_path / "cfg.toml").mkdir()
    assert_one_line(invoke("run", tmp_path / "cfg.toml", "--out", tmp_path / "o"), 2, "cannot read config", "cfg.toml")
    assert_one_line(invoke("run", tmp_path / "none.toml", "--out", tmp_path / "o"), 2, "none.toml")
    assert not (tmp_path / "o").exists()


def test_weights_that_are_not_safetensors_or_the_wrong_shape_are_one_line(tmp_path):
    from campaign_fixtures.byo import small_mlp  # tests/ is on sys.path (rootdir conftest)

    pickled = tmp_path / "model.pt"
    torch.save(small_mlp().state_dict(), pickled)
    wrong = tmp_path / "wrong.safetensors"
    save_file({k: v.contiguous() for k, v in small_mlp(hidden=8).state_dict().items()}, str(wrong))
    victim = {"factory": "campaign_fixtures.byo:small_mlp", "kwargs": {"hidden": 16}, "mean": [0.5], "std": [0.25]}
    for weights, needles in (
        (pickled, ("victim.weights", "safetensors", "model.pt")),
        (wrong, ("victim.weights", "shape", "1.weight", "(16, 256)", "(8, 256)")),
    ):
        cfg = toml({**BASE, "victim": {**victim, "weights": str(weights)}}, tmp_path / "c.toml")
        res = invoke("run", cfg, "--out", tmp_path / "o", "--trust-module", "campaign_fixtures")
        assert_one_line(res, 2, *needles)
        assert not (tmp_path / "o").exists()


def test_corrupt_zoo_card_is_one_line(tmp_path, monkeypatch):
    from semadv.zoo import registry

    for f in registry.WEIGHTS_DIR.glob("digits-tinycnn.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "digits-tinycnn.json").write_text('{"name": "digits-tinycnn", "metr')
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)  # campaigns load with zoo.load (no cache)
    cfg = toml(BASE, tmp_path / "c.toml")
    assert_one_line(invoke("run", cfg, "--out", tmp_path / "o"), 2, "zoo card", "corrupt", "semadv zoo train")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ disks, bugs and --debug


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_full_or_read_only_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code):
    from semadv.campaign import store

    def refuse(self, *a, **k):
        raise OSError(code, __import__("os").strerror(code), str(tmp_path / "o" / "records.sqlite"))

    monkeypatch.setattr(store.Store, "__init__", refuse)
    cfg = toml(BASE, tmp_path / "c.toml")
    line = assert_one_line(invoke("run", cfg, "--out", tmp_path / "o"), 2, "records.sqlite")
    assert __import__("os").strerror(code) in line
    assert not (tmp_path / "o").exists()


def test_internal_errors_are_one_line_exit_1_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    from semadv.campaign import runner

    def broken(*a, **k):
        raise ZeroDivisionError("our bug [/x]")

    monkeypatch.setattr(runner, "load_data", broken)
    cfg = toml(BASE, tmp_path / "c.toml")
    assert_one_line(invoke("run", cfg, "--out", tmp_path / "o"), 1, "internal error", "ZeroDivisionError", "--debug")
    res = invoke("--debug", "run", cfg, "--out", tmp_path / "o")
    assert res.exit_code == 1 and isinstance(res.exception, ZeroDivisionError)  # re-raised: the runner shows it


# ------------------------------------------------------------------ sizes: errors, not clamps


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--inputs", "100000"], "--inputs must be in [1, 449]"),
        (["--inputs", "0"], "--inputs"),
        (["--n0", "0"], "--n0 must be"),
        (["--n", "0"], "--n must be"),
        (["--n", "100000000000"], "--n must be"),
        (["--sigma", "-1"], "--sigma"),
        (["--sigma", "nan"], "--sigma"),
        (["--alpha", "1.5"], "--alpha"),
    ],
)
def test_bad_certify_flags_name_the_flag(tmp_path, flags, needle):
    assert_one_line(invoke("certify", "--out", tmp_path / "c", *flags), 2, needle)
    assert not (tmp_path / "c").exists()


def test_absurd_sizes_are_refused_with_their_limit():
    with pytest.raises(ConfigError, match=r"steps must be at most 1,000,000"):
        load_config(data=BASE, overrides=["search.params.steps=1000000000000"])
    with pytest.raises(ConfigError, match=r"data.n"):
        load_config(data=BASE, overrides=["data.n=100000000000"])
    with pytest.raises(InputError, match=r"size must be at most 1,024"):
        load_digits(size=10**6)
    with pytest.raises(InputError, match=r"n must be at most 10,000,000"):
        semadv.worlds.generate("digits", "test", n=10**12)


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_input_dtype_is_cast_to_the_victim_with_a_warning(digits_model, dtype):
    model, x, y, _ = digits_model
    attack = semadv.Attack(
        semadv.build("goal", "misclassify"), semadv.build("space", "pixel", eps=0.05), semadv.build("search", "pgd")
    )
    ref = attack(model, x[:6], y[:6])
    r = attack(model, x[:6].to(dtype), y[:6])
    assert any(f"input dtype {str(dtype).removeprefix('torch.')} cast to the victim's float32" in w for w in r.warnings)
    assert r.x_adv.dtype == torch.float32 and r.success.shape == (6,)
    if dtype == torch.float64:  # float64 → float32 is exact for these images: same result as float32 input
        assert torch.equal(r.success, ref.success)
    assert not any("dtype" in w for w in ref.warnings)


# ------------------------------------------------------------------ run directories


def test_a_second_run_on_a_locked_directory_is_one_line(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with open(out / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another semadv run holds the directory
        res = invoke("run", toml(BASE, tmp_path / "c.toml"), "--out", out)
        assert_one_line(res, 2, "in use by another semadv run")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written beside the lock
    assert invoke("run", tmp_path / "c.toml", "--out", out, "--quiet").exit_code == 0  # released: it runs


def test_a_late_failing_config_writes_nothing_and_the_corrected_rerun_works(tmp_path):
    out = tmp_path / "o"
    out.mkdir()  # the user made the directory: it stays, but holds nothing that binds it
    bad = toml(
        {**BASE, "victim": {"zoo": "digits-tinycnn", "weights": str(tmp_path / "none.safetensors")}},
        tmp_path / "b.toml",
    )
    assert_one_line(invoke("run", bad, "--out", out), 2, "none.safetensors")
    assert list(out.iterdir()) == []
    fresh = tmp_path / "fresh"
    assert_one_line(invoke("run", bad, "--out", fresh), 2)
    assert not fresh.exists()
    # a run that failed after the directory was prepared but before a commit does not bind it either
    cfg = load_config(data=BASE)
    with pytest.raises(KeyboardInterrupt), open_run_dir(cfg, out, 5):
        raise KeyboardInterrupt
    other = load_config(data=BASE, overrides=["search.params.steps=3"])
    assert run_campaign(other, out) == out
    assert json.loads((out / "config.json").read_text())["search"]["params"]["steps"] == 3


def _partial_run(tmp_path: Path, stop_after: int) -> Path:
    out = tmp_path / "partial"
    cfg = load_config(data=BASE)  # 20 digits in batches of 4: 5 batches

    def stop(done: int, total: int) -> None:
        if done == stop_after:
            raise KeyboardInterrupt  # the user pressed Ctrl-C (SIGKILL is tested in test_campaign)

    with pytest.raises(KeyboardInterrupt):
        run_campaign(cfg, out, progress=stop)
    return out


def test_report_reads_the_run_read_only_and_marks_a_partial_run(tmp_path):
    out = _partial_run(tmp_path, 2)
    before = tree_state(out)
    res = invoke("report", out, "--out", tmp_path / "rep" / "r.html")
    assert res.exit_code == 0, res.output
    assert "warning: t is partial: 2 of 5 batches" in res.stderr
    assert tree_state(out) == before  # no byte, mtime or new file (no -wal/-shm) in the run directory
    (s,) = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert (s["complete"], s["batches_done"], s["batches_total"], s["n"]) == (False, 2, 5, 8)
    html = (tmp_path / "rep" / "r.html").read_text()
    assert "partial run: 2 of 5 batches" in html
    # resume completes it; the report then says nothing about partial
    run_campaign(load_config(data=BASE), out)
    res = invoke("report", out, "--out", tmp_path / "rep2" / "r.html")
    assert res.exit_code == 0 and "partial" not in res.stderr
    (s,) = json.loads((tmp_path / "rep2" / "summary.json").read_text())
    assert (s["complete"], s["batches_done"], s["n"]) == (True, 5, 20)
    assert "partial run" not in (tmp_path / "rep2" / "r.html").read_text()


def test_an_empty_run_is_an_error_not_nan(tmp_path):
    out = tmp_path / "empty"
    with open_run_dir(load_config(data=BASE), out, 5):
        pass  # killed (SIGKILL) before its first commit: the directory is there, the records are not
    assert_one_line(invoke("report", out, "--out", tmp_path / "r.html"), 2, "no records yet", "0 of 5 batches")
    assert not (tmp_path / "r.html").exists()
    assert_one_line(invoke("report", tmp_path / "nothing-here"), 2)


# ------------------------------------------------------------------ fuzz: configs through the CLI, API inputs

_hostile = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(-3, 3), max_size=2),
)
_keys = st.one_of(
    st.sampled_from(["zoo", "factory", "weights", "name", "params", "n", "split", "batch_size", "kind"]),
    st.sampled_from(["source", "eps", "steps", "sigma", "n0", "backend", "shards", "shard", "mean", "std"]),
    st.text(min_size=1, max_size=8),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["victim", "space", "goal", "search", "data", "run", "certify", "name", "params"]),
            _keys,
            _hostile,
        ),
        min_size=1,
        max_size=3,
    ),
    garbage=st.one_of(st.none(), st.text(max_size=40)),
)
def test_fuzzed_configs_through_the_cli_fail_in_one_line_and_write_nothing(tmp_path, edits, garbage):
    data = json.loads(json.dumps(BASE))
    data["data"]["n"], data["search"]["params"]["steps"] = 4, 1
    for section, key, value in edits:
        if section == "name":
            data["name"] = value
        elif section == "params":
            target = data.get("search") if isinstance(data.get("search"), dict) else None
            if target is not None:
                target.setdefault("params", {})
                if isinstance(target["params"], dict):
                    target["params"][key] = value
        elif isinstance(data.get(section), dict) or section not in data:
            data.setdefault(section, {})
            data[section][key] = value
    work = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis reuses tmp_path across examples
    cfg = toml(data, work / "c.toml")
    if garbage is not None:  # sometimes not TOML at all
        cfg.write_text(cfg.read_text() + garbage)
    out = work / "run"
    res = invoke("run", cfg, "--out", out, "--quiet")
    assert "Traceback" not in res.output + res.stderr
    assert res.exit_code in (0, 2), (res.exit_code, res.stderr, res.exception)
    if res.exit_code == 2:
        assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1, res.stderr
        assert not out.exists()  # nothing half-written
    else:
        assert (out / "records.sqlite").exists() and "run complete" in res.stdout


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=5),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8, torch.bool]),
    fill=st.sampled_from([0.5, float("nan"), float("inf"), -3.0, 2.0]),
    labels=st.lists(st.integers(-(2**40), 2**40), min_size=0, max_size=4),
    space=st.sampled_from(["pixel", "transform"]),
)
def test_fuzzed_api_inputs_raise_input_error_or_run(digits_model, shape, dtype, fill, labels, space):
    model = digits_model[0]
    x = torch.full(shape, fill).to(dtype) if dtype != torch.bool else torch.ones(shape, dtype=torch.bool)
    y = torch.tensor(labels, dtype=torch.int64)
    params = {"pixel": {"eps": 0.05}, "transform": {"rotation": (-5.0, 5.0), "brightness": (-0.1, 0.1)}}[space]
    attack = semadv.Attack(
        semadv.build("goal", "misclassify"),
        semadv.build("space", space, **params),
        semadv.build("search", "pgd", steps=1),
    )
    try:
        r = attack(model, x, y)
    except SemadvError as err:
        assert str(err).strip() and "\n" not in str(err).strip()
        return
    assert r.success.shape == (len(y),) and torch.isfinite(r.x_adv).all()


@pytest.mark.parametrize("space", ["transform", "pixel"])
def test_certify_audit_probes_every_certificate(tmp_path, space):
    """Issue 21.3: `semadv certify --audit K` audits each certified region at K random points + one PGD point."""
    import json

    res = invoke(
        "certify",
        "--inputs",
        "6",
        "--n0",
        "20",
        "--n",
        "200",
        "--audit",
        "3",
        "--space",
        space,
        "--out",
        tmp_path / "c",
    )
    assert res.exit_code == 0, res.output
    a = json.loads((tmp_path / "c" / "summary.json").read_text())["audit"]
    assert a["points"] == 4 * a["certified_inputs"] and a["violations"] == 0
    assert "audit:" in res.output
    assert_one_line(invoke("certify", "--space", "fourier", "--out", tmp_path / "d"), 2, "--space must be")
