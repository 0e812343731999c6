"""Command-line interface (typer + rich). The only module that prints or configures logging."""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

import semadv
from semadv.registry import list_registered, lookup


class _OneErrorPath(TyperGroup):
    """Every command's failure ends here: one markup-safe line on stderr (issue 24).

    ``SemadvError`` (bad input, bad config, unknown name) and ``OSError`` (unreadable paths, read-only or
    full disks) are the user's to fix: ``error: …``, exit code 2. Anything else is our bug: one
    ``internal error`` line, exit code 1. ``semadv --debug …`` re-raises instead, with the traceback."""

    def invoke(self, ctx: Any) -> Any:  # ctx: the click Context vendored by typer
        from semadv.errors import SemadvError

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own exits and usage errors
            raise
        except Exception as err:
            if _STATE["debug"]:
                raise
            if isinstance(err, SemadvError):
                _fail(f"error: {err}", 2)
            if isinstance(err, OSError):
                where = f": {err.filename}" if getattr(err, "filename", None) else ""
                _fail(f"error: {err.strerror or err}{where}", 2)
            _fail(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", 1)
            raise  # unreachable: _fail raises


def _fail(line: str, code: int) -> None:
    err_console.print(" ".join(line.split()), style="red", soft_wrap=True)
    raise typer.Exit(code=code)


_STATE = {"debug": False}

app = typer.Typer(
    cls=_OneErrorPath,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="semadv: semantic adversarial robustness",
)
# markup off: paths, run names and error messages may contain "[...]" (Rich would parse or crash on them)
console = Console(width=None if sys.stdout.isatty() else 130, markup=False, highlight=False)
err_console = Console(stderr=True, markup=False, highlight=False, width=None if sys.stderr.isatty() else 200)

KINDS = {"spaces": "space", "searches": "search", "goals": "goal"}


def _version(value: bool) -> None:
    if value:
        console.print(f"semadv {semadv.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log INFO messages."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of a failure."),
) -> None:
    """semadv: does your vision model survive semantic changes?"""
    _STATE["debug"] = debug
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command("list")
def list_cmd(kind: str = typer.Argument(..., help="spaces | searches | goals")) -> None:
    """List registered components (generated from the registry)."""
    if kind not in KINDS:
        console.print(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}", style="red")
        raise typer.Exit(code=2)
    table = Table(title=f"semadv {kind}")
    table.add_column("name")
    table.add_column("implementation")
    table.add_column("summary")
    for name in list_registered(KINDS[kind]):
        obj = lookup(KINDS[kind], name)
        doc = (obj.__doc__ or "").strip().splitlines()
        table.add_row(name, f"{obj.__module__}.{obj.__qualname__}", doc[0] if doc else "")
    console.print(table)


def _fmt(v: float, spec: str = ".3f") -> str:
    return "—" if math.isnan(v) else format(v, spec)


@app.command()
def demo(out: str = typer.Option("runs/demo", help="output directory (reruns resume)")) -> None:
    """The main job on the embedded default: short campaigns on the shipped zoo and worlds, one HTML report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from semadv.demo import run_demo_campaigns

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:

        def factory(name: str):  # type: ignore[no-untyped-def]
            task = bar.add_task(escape(name), total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        report, summaries = run_demo_campaigns(out, factory)
    table = Table(title="semadv demo — shipped digits CNN (sklearn digits, 200 test images)")
    for col in ("campaign", "clean acc", "success", "robust acc [95% CI]", "median dist", "queries"):
        table.add_column(col, justify="left" if col == "campaign" else "right")
    for s in summaries:
        if s["kind"] == "attack":
            r = s["robust_accuracy"]
            md = s["median_distance"]
            table.add_row(
                s["name"],
                f"{s['clean_accuracy']['rate']:.1%}",
                f"{s['success_rate']['rate']:.1%}",
                f"{r['rate']:.1%} [{r['ci_low']:.1%}, {r['ci_high']:.1%}]",
                _fmt(md),
                f"{s['mean_queries']:.1f}",
            )
        else:
            table.add_row(s["name"], f"{s['accuracy']['rate']:.1%}", "—", f"ACR {s['acr']:.3f}", "—", "—")
    console.print(table)
    for s in summaries:
        for w in s.get("warnings", []):
            console.print(f"warning ({s['name']}): {w}", style="yellow")
    console.print(f"report: {report}")
    from semadv.demo import run_demo_recipes

    for page in run_demo_recipes(out, log=lambda m: console.print(m)):
        console.print(f"recipe results page: {page}")


DIGITS_TEST = 449  # test digits of the shipped split (sklearn digits, 25%)


def _check_certify_flags(*, n_inputs: int, n0: int, n: int, sigma: float, alpha: float) -> None:
    """Refuse out-of-range ``semadv certify`` flags by their flag names (no silent clamping)."""
    from semadv.checks import MAX_COUNT
    from semadv.errors import InputError

    if not 1 <= n_inputs <= DIGITS_TEST:
        raise InputError(f"--inputs must be in [1, {DIGITS_TEST}] (the shipped test split); got {n_inputs}")
    for flag, v in (("--n0", n0), ("--n", n)):
        if not 1 <= v <= MAX_COUNT:
            raise InputError(f"{flag} must be in [1, {MAX_COUNT:.0e}] noise samples per input; got {v}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise InputError(f"--sigma must be a finite noise level > 0; got {sigma}")
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be a failure probability in (0, 1); got {alpha}")


@app.command()
def certify(
    out: str = typer.Option("runs/certify", help="output directory (records.csv, summary.json)"),
    n_inputs: int = typer.Option(100, "--inputs", help="test digits to certify"),
    n0: int = typer.Option(100, help="selection samples"),
    n: int = typer.Option(2000, help="estimation samples"),
    sigma: float = typer.Option(0.1, help="isotropic noise σ (whitened transform coordinates)"),
    alpha: float = typer.Option(0.001, help="failure probability of each certificate"),
    seed: int = typer.Option(0),
    space_name: str = typer.Option("transform", "--space", help="transform (geometric + photometric) | pixel"),
    audit_points: int = typer.Option(
        0, "--audit", help="audit every certificate at this many points inside its region (+ a PGD point); 0: off"
    ),
) -> None:
    """Certify the shipped test victim (zoo digits-tinycnn) against smooth geometric/photometric changes by
    randomized smoothing in a TransformSpace (rotation, scale, translation, brightness); writes per-sample
    records and a summary with the certified-accuracy curve."""
    import csv
    import json
    from pathlib import Path

    import torch

    from semadv import zoo
    from semadv.certify import LogitsClassifier, Smoothing
    from semadv.certify.noise import Isotropic
    from semadv.certify.report import summarize
    from semadv.errors import InputError
    from semadv.spaces import PixelSpace, TransformSpace
    from semadv.worlds import generate

    _check_certify_flags(n_inputs=n_inputs, n0=n0, n=n, sigma=sigma, alpha=alpha)
    if space_name not in ("transform", "pixel"):
        raise InputError(f"--space must be transform or pixel; got {space_name!r}")
    if not 0 <= audit_points <= 1000:
        raise InputError(f"--audit must be in [0, 1000] points per certified input; got {audit_points}")
    model = zoo.load("digits-tinycnn")
    te = generate("digits", "test", n=DIGITS_TEST)
    x, y = te["image"][:n_inputs], te["label"][:n_inputs]
    with torch.no_grad():
        acc = float((model(te["image"]).argmax(1) == te["label"]).float().mean())
    space: TransformSpace | PixelSpace
    if space_name == "transform":
        space = TransformSpace(
            rotation=(-30.0, 30.0),
            scale=(0.8, 1.2),
            translate_x=(-0.2, 0.2),
            translate_y=(-0.2, 0.2),
            brightness=(-0.3, 0.3),
        )
        coordinates = "whitened"
    else:  # Cohen et al.: Gaussian noise on the pixels themselves
        space, coordinates = PixelSpace(eps=1.0), "raw"
    sm = Smoothing(space, LogitsClassifier(model), Isotropic(sigma), 10, coordinates=coordinates)
    g = torch.Generator().manual_seed(seed)
    with console.status(f"certifying {len(y)} inputs with n0={n0}, n={n} …"):
        cert = sm.certify(x, n0, n, alpha, g)
    summary = summarize(cert, y, alpha=alpha)
    if audit_points:
        from semadv.certify.audit import audit

        with console.status(f"auditing every certificate at {audit_points} + 1 points with n={n} …"):
            rep = audit(sm, x, cert, n=n, points=audit_points, alpha=alpha, logits=model, generator=g)
        summary["audit"] = {
            "certified_inputs": rep.inputs,
            "points": rep.points,
            "base_flips": rep.base_flips,
            "violations": rep.violations,
            "worst_margin": rep.worst_margin,
            "n": n,
            "alpha": alpha,
        }
    summary["config"] = {
        "victim": "TinyCNN digits",
        "clean_accuracy": acc,
        "space": repr(space),
        "noise": repr(sm.noise),
        "coordinates": coordinates,
        "n0": n0,
        "n": n,
        "alpha": alpha,
        "seed": seed,
    }
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "records.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "label", "prediction", "p_lower", "radius", "correct"])
        ok = cert.correct(y)
        for i in range(len(y)):
            w.writerow(
                [
                    i,
                    int(y[i]),
                    int(cert.prediction[i]),
                    f"{float(cert.p_lower[i]):.6f}",
                    f"{float(cert.radius[i]):.6f}",
                    int(ok[i]),
                ]
            )
    (d / "summary.json").write_text(json.dumps(summary, indent=2))
    table = Table(title=f"certified accuracy (σ={sigma}, n={n}, α={alpha})")
    table.add_column("radius ≥", justify="right")
    table.add_column("certified accuracy", justify="right")
    table.add_column("95% CI", justify="right")
    for r, a, lo, hi in zip(
        summary["curve"]["radius"],
        summary["curve"]["certified_accuracy"],
        summary["curve"]["ci_low"],
        summary["curve"]["ci_high"],
        strict=True,
    ):
        table.add_row(f"{r:.3f}", f"{a:.1%}", f"[{lo:.1%}, {hi:.1%}]")
    console.print(table)
    console.print(
        f"ACR {summary['acr']:.4f}; abstained {summary['abstain_rate']:.1%}; wrote {d}/records.csv, summary.json"
    )
    if "audit" in summary:
        a = summary["audit"]
        console.print(
            f"audit: {a['points']} points in {a['certified_inputs']} certified regions; base classifier flipped at "
            f"{a['base_flips']}, smoothed classifier confidently flipped (a violation) at {a['violations']}"
        )


@app.command("run")
def run_cmd(
    config: str = typer.Argument(..., help="campaign TOML file"),
    out: str = typer.Option(..., "--out", help="run directory (rerun the same command to resume)"),
    overrides: list[str] = typer.Option([], "--set", help="override a config key: --set search.params.steps=20"),
    backend: str = typer.Option(None, help="local | ray (overrides run.backend)"),
    address: str = typer.Option(None, help="Ray cluster address (overrides run.address)"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    trust_module: list[str] = typer.Option(
        [], "--trust-module", help="a package whose factories the config may import and call (repeatable)"
    ),
    pages_only: bool = typer.Option(
        False, "--pages-only", help="recipe configs: rebuild claims.json and the page from OUT/*.json, run nothing"
    ),
) -> None:
    """Run or resume a campaign: stream its dataset through an attack or certification into OUT.

    A config with a ``[recipe]`` table runs a seed-paper recipe instead (``semadv.recipes``): its
    experiment results go to OUT/*.json and its results page is regenerated."""
    import json
    from pathlib import Path

    from rich.progress import Progress

    from semadv.campaign.config import ConfigError, load_config
    from semadv.campaign.runner import run_campaign
    from semadv.recipes.base import is_recipe_config, load_recipe_config, run_recipe, write_page
    from semadv.report.summary import summarize_run

    if is_recipe_config(config):
        recipe, rcfg = load_recipe_config(config, overrides)
        if pages_only:
            page = write_page(recipe, Path(out), rcfg.page)
        else:
            page = run_recipe(recipe, rcfg, out, log=lambda m: console.print(m) if not quiet else None)
        console.print(f"recipe complete: {page}")
        claims = Path(out) / "claims.json"
        if claims.exists():
            for row in json.loads(claims.read_text()):
                console.print(f"  {row['id']}: {row['verdict']} (n = {row['n']})")
        return
    if pages_only:
        raise ConfigError("--pages-only applies to recipe configs ([recipe] table) only")

    extra = (
        list(overrides)
        + ([f"run.backend={backend!r}".replace("'", '"')] if backend else [])
        + ([f'run.address="{address}"'] if address else [])
    )
    cfg = load_config(config, extra)
    with Progress(console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task(escape(cfg.name), total=None)  # progress columns render markup: escape user text
        run_campaign(
            cfg,
            out,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            trust_modules=trust_module,
        )
    console.print(f"run complete: {out}  (report: semadv report {out})")
    console.print(_headline(summarize_run(Path(out))))


def _headline(s: dict[str, Any]) -> str:
    """One line of a run's numbers with their 95 % intervals (Clopper–Pearson)."""
    pct = lambda r: f"{100 * r['rate']:.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] ({r['k']}/{r['n']})"
    if s["kind"] == "certify":
        return f"{s['name']}: certified accuracy at r=0 {pct(s['accuracy'])}, ACR {s['acr']:.3f}"
    return (
        f"{s['name']}: clean accuracy {pct(s['clean_accuracy'])}, attack success {pct(s['success_rate'])} of the "
        f"correctly classified, robust accuracy {pct(s['robust_accuracy'])}"
    )


@app.command("report")
def report_cmd(
    run_dir: str = typer.Argument(..., help="a run directory, or a directory of runs"),
    out: str = typer.Option(None, help="HTML path (default RUN_DIR/report.html)"),
) -> None:
    """Write a self-contained HTML report and summary.json for one or more runs."""
    import json

    from semadv.report import build_report

    path = build_report(run_dir, out)
    for s in json.loads((path.parent / "summary.json").read_text()):
        if not s["complete"]:
            err_console.print(
                f"warning: {s['name']} is partial: {s['batches_done']} of {s['batches_total']} batches", style="yellow"
            )
    console.print(f"wrote {path} and {path.parent / 'summary.json'}")


zoo_app = typer.Typer(no_args_is_help=True, help="Model zoo: list cards, train models.")
app.add_typer(zoo_app, name="zoo")


@zoo_app.command("list")
def zoo_list(markdown: str = typer.Option(None, help="also write the cards as a Markdown results page here")) -> None:
    """Every zoo model with its metrics, training time, SHA-256 prefix and reproduce command."""
    import json
    from pathlib import Path

    from semadv.zoo.registry import results_page

    if markdown:
        Path(markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(markdown).write_text(results_page())

    from semadv.errors import RegistryError
    from semadv.zoo import card, entries

    table = Table(title="semadv zoo")
    for col in ("model", "description", "metrics", "params", "train s", "sha256", "reproduce"):
        table.add_column(col)
    for name, entry in sorted(entries().items()):
        try:
            c = card(name)
            table.add_row(
                name,
                entry.description,
                json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in c.metrics.items()}),
                f"{c.parameters:,}",
                f"{c.train_seconds:.1f}",
                c.sha256[:12],
                c.reproduce,
            )
        except RegistryError:
            table.add_row(name, entry.description, "(no weights)", "—", "—", "—", f"semadv zoo train {name}")
    console.print(table)


@zoo_app.command("train")
def zoo_train(name: str = typer.Argument(...), seed: int = typer.Option(0)) -> None:
    """Train a zoo model with its recipe and write its safetensors weights and card into the package."""
    from semadv.zoo import train

    with console.status(f"training {name} …"):
        c = train(name, seed=seed)
    console.print(f"trained {name} in {c.train_seconds:.1f} s: {c.metrics}; sha256 {c.sha256}")


world_app = typer.Typer(no_args_is_help=True, help="Procedural worlds: render and export.")
app.add_typer(world_app, name="world")


@world_app.command("render")
def world_render(
    world: str = typer.Argument(..., help="faces | streets | digits"),
    n: int = typer.Option(16, help="number of images"),
    out: str = typer.Option("grid.png", help="output PNG"),
    split: str = typer.Option("train", help="train | val | test"),
    seed: int = typer.Option(0),
    ncol: int = typer.Option(8, help="images per row"),
) -> None:
    """Render ``n`` samples of a world into a labelled grid (landmarks and ids for faces, label maps and
    boxes for streets)."""
    from semadv.worlds.datasets import generate
    from semadv.worlds.grid import save_grid

    data = generate(world, split, seed, n)
    if world == "faces":
        caps = [f"id {int(i)}" for i in data["identity"]]
        path = save_grid(data["image"], out, ncol=ncol, captions=caps, points=data["landmarks"])
    elif world == "streets":
        path = save_grid(data["image"], out, ncol=max(1, ncol // 4), boxes=data["boxes"], label_maps=data["labels"])
    else:
        path = save_grid(data["image"], out, ncol=ncol, captions=[str(int(v)) for v in data["label"]])
    console.print(f"wrote {path} ({n} {world} images, split {split}, seed {seed})")


@world_app.command("sweep")
def world_sweep(
    world: str = typer.Argument("faces", help="faces | streets"),
    out: str = typer.Option("sweep.png", help="output PNG"),
    seed: int = typer.Option(0),
) -> None:
    """One scene with every attribute (faces) or scene parameter group (streets) at its low and high end:
    a picture of what each parameter does."""
    import torch

    from semadv.worlds import FacesWorld, StreetsWorld
    from semadv.worlds.faces import N_ID
    from semadv.worlds.grid import save_grid

    if world == "faces":
        fw = FacesWorld()
        base, _ = fw.sample(1, 1, seed=seed)
        for name, v in (("yaw", 0.0), ("roll", 0.0), ("hat", 0.0), ("bangs", 0.0), ("eyeglasses", 0.0)):
            base = fw.set(base, name, v)
        defs = fw.params[N_ID:]
        scenes, caps = [], []
        for d in defs:
            ctx = fw.set(base, "eyeglasses", 1.0) if d.name == "glasses_color" else base
            for v in (d.lo, d.hi):
                scenes.append(fw.set(ctx, d.name, v))
                caps.append(f"{d.name}={v:g}")
        imgs = fw.render(torch.cat(scenes)).image
        path = save_grid(imgs, out, ncol=8, scale=3, captions=caps)
    elif world == "streets":
        sw = StreetsWorld()
        base = sw.insert(sw.insert(sw.sample(1, seed=seed), "car0", x=0.2, depth=0.25), "ped0", x=1.3, depth=0.3)
        base = sw.set(sw.set(base, "fog", 0.0), "time_of_day", 0.0)
        names = [
            "car0_hue",
            "car0_yaw",
            "car0_x",
            "car0_depth",
            "car0_length",
            "car0_roof",
            "fog",
            "time_of_day",
            "foliage_density",
            "foliage_color",
        ]
        scenes, caps = [], []
        for n in names:
            d = sw.params[sw.index(n)]
            for v in (d.lo, d.hi):
                scenes.append(sw.set(base, n, v))
                caps.append(f"{n}={v:g}")
        imgs = sw.render(torch.cat(scenes)).image
        path = save_grid(imgs, out, ncol=4, scale=3, captions=caps)
    else:
        console.print(f"unknown world {world!r}; choose faces or streets", style="red")
        raise typer.Exit(code=2)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
