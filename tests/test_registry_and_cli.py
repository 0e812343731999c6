from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

import semadv
from semadv import build, list_registered
from semadv.cli import app
from semadv.errors import RegistryError
from semadv.search.base import Search
from semadv.spaces.base import Space

SEARCH_ARGS: dict[str, dict] = {
    "pgd": {"steps": 2},
    "fab": {"steps": 2},
    "adam": {"steps": 2},
    "random": {"samples": 2},
    "grid": {"points": 2},
}


@pytest.mark.parametrize("name", list_registered("search"))
def test_every_registered_search_runs_in_pixel_and_transform_space(name):
    """Contract test over the registry: every search works in every (differentiable) space."""
    search = build("search", name, **SEARCH_ARGS.get(name, {}))
    assert isinstance(search, Search)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3))
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1])
    spaces = [build("space", "transform", brightness=(-0.2, 0.2), rotation=(-5.0, 5.0))]
    if name != "grid":  # a grid over 48 pixels is refused (tested elsewhere)
        spaces.append(build("space", "pixel", eps=0.05))
    for space in spaces:
        assert isinstance(space, Space)
        r = semadv.Attack(build("goal", "misclassify"), space, search)(model, x, y)
        assert r.success.shape == (2,) and bool((r.queries >= 2).all())


def test_unknown_names_raise():
    with pytest.raises(RegistryError, match="unknown search 'pgdd'"):
        build("search", "pgdd")
    with pytest.raises(RegistryError, match="unknown registry kind 'widgets'"):
        list_registered("widgets")
    with pytest.raises(RegistryError, match="already registered"):
        semadv.register("search", "pgd")(object)


def test_cli_version_and_list():
    runner = CliRunner()
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and semadv.__version__ in res.output
    for kind, expected in (("spaces", "transform"), ("searches", "fab"), ("goals", "misclassify")):
        res = runner.invoke(app, ["list", kind])
        assert res.exit_code == 0 and expected in res.output
    res = runner.invoke(app, ["list", "widgets"])
    assert res.exit_code == 2 and "unknown kind" in res.output


def test_cli_demo_runs_campaigns_and_writes_report(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "semadv.cli", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "pixel PGD" in out and "semantic transforms" in out and "ACR" in out
    report = tmp_path / "demo" / "report.html"
    assert report.exists() and "report.html" in out
    for name in ("demo_pixel_pgd", "demo_pixel_fab", "demo_transform_pgd", "demo_transform_random", "demo_certify"):
        assert (tmp_path / "demo" / name / "records.sqlite").exists()
    assert report.read_text().count("<svg") >= 5


def test_square_brackets_in_paths_do_not_crash_the_cli(tmp_path):
    """Issue 24: Rich markup in user strings ("[/x]") crashed the CLI with a MarkupError."""
    runner = CliRunner()
    cfg = tmp_path / "[x]bad.toml"
    cfg.write_text("[recipe]\nname = '[/x]no-such-recipe'\n")
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "[y]out")])
    assert res.exit_code == 2, res.output
    assert "unknown recipe '[/x]no-such-recipe'" in res.output and "Traceback" not in res.output


def test_a_completed_run_with_markup_in_its_name_and_path_exits_0(tmp_path):
    """Issue 24: a run named "[/x]…" into an --out with "[/y]" completed but was reported failed (exit 1)."""
    runner = CliRunner()
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "[/x]markup [bold]run"\n'
        '[victim]\nzoo = "digits-tinycnn"\n'
        '[space]\nname = "pixel"\nparams = { eps = 0.05 }\n'
        '[search]\nname = "pgd"\nparams = { steps = 2, alpha = 0.02 }\n'
        '[data]\nsource = "digits"\nn = 8\n'
        "[run]\nbatch_size = 8\n"
    )
    out = tmp_path / "[/y]out"
    res = runner.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "[/x]markup [bold]run: clean accuracy" in res.output and "Traceback" not in res.output
    assert "attack success" in res.output and "(8/8)" in res.output.replace("\n", "")  # numbers at the end
    assert (out / "records.sqlite").is_file()
