"""The five seed papers as thin compositions of engine parts (see :mod:`semadv.recipes.base`)."""

from semadv.recipes.base import Recipe, RecipeConfig, load_recipe_config, recipes, run_recipe

__all__ = ["Recipe", "RecipeConfig", "load_recipe_config", "recipes", "run_recipe"]
