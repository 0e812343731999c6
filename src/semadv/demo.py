"""The demo: the main job on the embedded default — campaigns on the shipped zoo and worlds, one report.

``run_demo_campaigns`` runs the configs ``semadv/campaign/configs/demo_*.toml`` listed in
:data:`DEMO_CONFIGS` into ``out/<config>/`` (resuming if present) and writes ``out/report.html``.
"""

from __future__ import annotations

DEMO_CONFIGS = ("demo_pixel_pgd", "demo_pixel_fab", "demo_transform_pgd", "demo_transform_random", "demo_certify")
#: demo-sized recipe runs (seed papers), written to ``out/recipes/<recipe>/`` with their results pages
DEMO_RECIPES = (
    "demo_recipe_face_robustness",
    "demo_recipe_type1",
    "demo_recipe_advspade",
    "demo_recipe_semanticadv",
)


def run_demo_campaigns(out: str = "runs/demo", progress_factory=None):  # type: ignore[no-untyped-def]
    """Run the demo campaigns and build the report; returns (report path, list of run summaries)."""
    from pathlib import Path

    from semadv.campaign.config import load_config
    from semadv.campaign.runner import run_campaign
    from semadv.report import build_report, summarize_run

    cfg_dir = Path(__file__).parent / "campaign" / "configs"
    runs = []
    for name in DEMO_CONFIGS:
        cfg = load_config(cfg_dir / f"{name}.toml")
        progress = progress_factory(cfg.name) if progress_factory is not None else None
        runs.append(run_campaign(cfg, Path(out) / name, progress=progress))
    report = build_report(out, Path(out) / "report.html", title="semadv demo — digits victim, pixel vs semantic")
    return report, [summarize_run(r) for r in runs]


def run_demo_recipes(out: str = "runs/demo", log=None):  # type: ignore[no-untyped-def]
    """Run the demo-sized recipe configs; returns the results pages written."""
    import logging
    from pathlib import Path

    from semadv.recipes.base import load_recipe_config, run_recipe

    log = log or logging.getLogger(__name__).info
    cfg_dir = Path(__file__).parent / "campaign" / "configs"
    pages = []
    for name in DEMO_RECIPES:
        recipe, cfg = load_recipe_config(cfg_dir / f"{name}.toml")
        pages.append(run_recipe(recipe, cfg, Path(out) / "recipes" / recipe.name, log=log))
    return pages
