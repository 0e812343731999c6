"""Searches: one loop each, written against the Space interface."""

from semadv.search.base import Search, SearchOutput
from semadv.search.fab import FAB, hyperplane_step
from semadv.search.gradient import FGSM, PGD, AdamPenalty, total_variation
from semadv.search.sampling import GridSearch, RandomSearch
from semadv.search.typeone import TypeOneSearch, k_update, latent_hinge

__all__ = [
    "FAB",
    "FGSM",
    "PGD",
    "AdamPenalty",
    "GridSearch",
    "RandomSearch",
    "Search",
    "SearchOutput",
    "TypeOneSearch",
    "hyperplane_step",
    "k_update",
    "latent_hinge",
    "total_variation",
]
