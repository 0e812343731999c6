"""Searches: one loop each, written against the Space interface."""

from semadv.search.base import Search, SearchOutput
from semadv.search.fab import FAB, hyperplane_step
from semadv.search.gradient import FGSM, MIFGSM, PGD, AdamPenalty, input_diversity, total_variation
from semadv.search.sampling import GridSearch, RandomSearch
from semadv.search.typeone import TypeOneSearch, k_update, latent_hinge

__all__ = [
    "FAB",
    "FGSM",
    "MIFGSM",
    "PGD",
    "AdamPenalty",
    "GridSearch",
    "RandomSearch",
    "Search",
    "SearchOutput",
    "TypeOneSearch",
    "hyperplane_step",
    "input_diversity",
    "k_update",
    "latent_hinge",
    "total_variation",
]
