"""Searches: one loop each, written against the Space interface."""

from semadv.search.base import Search, SearchOutput
from semadv.search.fab import FAB, hyperplane_step
from semadv.search.gradient import FGSM, PGD, AdamPenalty, total_variation
from semadv.search.sampling import GridSearch, RandomSearch

__all__ = [
    "FAB",
    "FGSM",
    "PGD",
    "AdamPenalty",
    "GridSearch",
    "RandomSearch",
    "Search",
    "SearchOutput",
    "hyperplane_step",
    "total_variation",
]
