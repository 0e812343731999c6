"""Goals: per-sample objectives and success tests."""

from semadv.goals.classification import Misclassification
from semadv.goals.custom import LossGoal
from semadv.goals.segmentation import SegmentationGoal, misclassified_ratio
from semadv.goals.typeone import KeepAndChange

__all__ = ["KeepAndChange", "LossGoal", "Misclassification", "SegmentationGoal", "misclassified_ratio"]
