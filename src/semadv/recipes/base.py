"""Recipes: each seed paper as a thin composition of engine parts, run by ``semadv run CONFIG``.

A recipe config is a TOML file with a ``[recipe]`` table naming the recipe and the experiment, plus the
recipe's own parameters (validated by the recipe's pydantic model)::

    [recipe]
    name = "face-robustness"
    experiment = "budget"      # or "all"
    identities = 100

``semadv run CONFIG --out DIR`` writes ``DIR/<experiment>.json`` (the measured numbers) and regenerates
the recipe's Markdown results page in DIR from every experiment JSON found there (and, with ``page``, at
that path too: ``docs/results/*.md`` pages are written this way, never by hand).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from semadv.campaign.config import ConfigError, _read, parse_override
from semadv.claims import Claim, claims_table, evaluate_claims, write_claims


class RecipeConfig(BaseModel):
    """Parameters common to every recipe."""

    model_config = ConfigDict(extra="forbid")

    name: str
    experiment: str = "all"
    seed: int = 0
    #: also write the results page here (e.g. docs/results/face_robustness.md)
    page: str | None = None


Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    """A recipe: its config model, its experiments (name → fn(config, out_dir, log) → JSON-able dict), and
    the page builder (results by experiment, out_dir → Markdown)."""

    name: str
    config: type[RecipeConfig]
    experiments: dict[str, Callable[[Any, Path, Progress], dict[str, Any]]]
    #: (results by experiment, directory holding the JSON, figure-path prefix as seen from the page) → Markdown;
    #: figures are written into the directory
    page: Callable[[dict[str, dict[str, Any]], Path, str], str]
    page_name: str
    #: the paper's headline claims, measured from the experiments' JSON into ``claims.json``
    claims: tuple[Claim, ...] = ()


_RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    _RECIPES[recipe.name] = recipe
    return recipe


def zoo_model(name: str) -> Any:
    """A zoo model loaded once per process (:func:`semadv.zoo.cached`)."""
    from semadv.zoo import cached

    return cached(name)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (results pages are built from these)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def recipes() -> dict[str, Recipe]:
    import semadv.recipes.advspade
    import semadv.recipes.face_robustness
    import semadv.recipes.oracles
    import semadv.recipes.render_sae
    import semadv.recipes.semanticadv
    import semadv.recipes.type1  # noqa: F401  (each registers itself)

    return dict(_RECIPES)


def is_recipe_config(path: str | Path) -> bool:
    """Does this TOML file (after ``base`` inheritance) describe a recipe run?"""
    return isinstance(_read(Path(path)).get("recipe"), dict)


def load_recipe_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Recipe, RecipeConfig]:
    raw = _read(Path(path)).get("recipe")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: no [recipe] table")
    for item in overrides:
        keys, value = parse_override(item)
        if keys[0] == "recipe":
            keys = keys[1:]
        if len(keys) != 1:
            raise ConfigError(f"--set {item!r}: recipe parameters are flat (recipe.KEY=VALUE)")
        raw[keys[0]] = value
    name = raw.get("name")
    known = recipes()
    if name not in known:
        raise ConfigError(f"recipe.name: unknown recipe {name!r} (available: {', '.join(sorted(known))})")
    recipe = known[name]
    try:
        cfg = recipe.config.model_validate(raw)
    except ValidationError as err:
        lines = [
            f"recipe.{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in err.errors()
        ]
        raise ConfigError("invalid recipe config:\n  " + "\n  ".join(lines)) from None
    if cfg.experiment != "all" and cfg.experiment not in recipe.experiments:
        raise ConfigError(
            f"recipe.experiment: unknown experiment {cfg.experiment!r} for {name} "
            f"(available: all, {', '.join(recipe.experiments)})"
        )
    return recipe, cfg


_log = logging.getLogger(__name__)


def run_recipe(recipe: Recipe, cfg: RecipeConfig, out: str | Path, log: Progress = _log.info) -> Path:
    """Run the configured experiment(s), write their JSON and regenerate the results page."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    names = list(recipe.experiments) if cfg.experiment == "all" else [cfg.experiment]
    for name in names:
        t0 = time.perf_counter()
        log(f"{recipe.name}: {name} …")
        res = recipe.experiments[name](cfg, d, log)
        res["wall_seconds"] = round(time.perf_counter() - t0, 1)
        res["config"] = cfg.model_dump()
        tmp = d / f"{name}.json.tmp"
        tmp.write_text(json.dumps(res, indent=1, default=float))
        tmp.replace(d / f"{name}.json")
        log(f"{recipe.name}: {name} done in {res['wall_seconds']} s")
    return write_page(recipe, d, cfg.page)


def write_page(recipe: Recipe, d: Path, page: str | None = None) -> Path:
    """Rebuild ``claims.json`` and the results page(s) from the experiment JSON files in ``d``.

    The page opens with the Claims table (after its title), so a reader sees first whether the paper's
    headline effects hold here."""
    results = {p.stem: json.loads(p.read_text()) for p in sorted(d.glob("*.json")) if p.stem in recipe.experiments}
    rows = evaluate_claims(recipe.claims, results)
    if recipe.claims:
        write_claims(d / "claims.json", rows)
    table = claims_table(rows)
    walls = ", ".join(f"{k}: {v.get('wall_seconds')} s" for k, v in results.items())
    footer = f"\n## Wall time on this machine (2 CPU cores)\n\n{walls}\n"

    def build(prefix: str) -> str:
        body = recipe.page(results, d, prefix)
        if table:
            head, sep, rest = body.partition("\n")
            body = head + sep + "\n" + table + "\n" + rest.lstrip("\n") if head.startswith("# ") else table + body
        return body + footer

    out = d / recipe.page_name
    out.write_text(build("."))
    if page:
        target = Path(page)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(build(os.path.relpath(d.resolve(), target.parent.resolve())))
    return out
