"""Goals: per-sample objectives and success tests."""

from semadv.goals.classification import Misclassification
from semadv.goals.custom import LossGoal

__all__ = ["LossGoal", "Misclassification"]
