"""semadv: semantic adversarial examples, certification and procedural worlds for vision models.

The six concepts (DESIGN §2): Victim, Goal, Space, Search, Attack, AttackResult.
"""

from semadv.attack import Attack
from semadv.constraints import Box, Ellipsoid, LpBall, Subspace, project_ellipsoid
from semadv.errors import (
    ConstraintError,
    IncompatibleError,
    InputError,
    NonFiniteError,
    RegistryError,
    SemadvError,
)
from semadv.goals import LossGoal, Misclassification
from semadv.registry import build, list_registered, register
from semadv.search import FAB, FGSM, PGD, AdamPenalty, GridSearch, RandomSearch
from semadv.spaces import LatentSpace, PixelSpace, TransformSpace
from semadv.types import AttackResult, Problem

__version__ = "0.1.0"

__all__ = [
    "FAB",
    "FGSM",
    "PGD",
    "AdamPenalty",
    "Attack",
    "AttackResult",
    "Box",
    "ConstraintError",
    "Ellipsoid",
    "GridSearch",
    "IncompatibleError",
    "InputError",
    "LatentSpace",
    "LossGoal",
    "LpBall",
    "Misclassification",
    "NonFiniteError",
    "PixelSpace",
    "Problem",
    "RandomSearch",
    "RegistryError",
    "SemadvError",
    "Subspace",
    "TransformSpace",
    "__version__",
    "build",
    "list_registered",
    "project_ellipsoid",
    "register",
]
