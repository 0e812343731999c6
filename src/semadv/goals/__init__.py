"""Goals: per-sample objectives and success tests."""

from semadv.goals.classification import Misclassification
from semadv.goals.custom import LossGoal
from semadv.goals.detection import DetectionGoal, pad_targets
from semadv.goals.landmarks import (
    LandmarkErrorGoal,
    LandmarkTargetGoal,
    OutOfRegionGoal,
    nme,
    out_of_region_ratio,
    rotate_groups,
)
from semadv.goals.pipeline import SameObject
from semadv.goals.segmentation import RegionGoal, SegmentationGoal, misclassified_ratio
from semadv.goals.typeone import KeepAndChange
from semadv.goals.verification import VerificationGoal, verification_distance

__all__ = [
    "DetectionGoal",
    "KeepAndChange",
    "LandmarkErrorGoal",
    "LandmarkTargetGoal",
    "LossGoal",
    "Misclassification",
    "OutOfRegionGoal",
    "RegionGoal",
    "SameObject",
    "SegmentationGoal",
    "VerificationGoal",
    "misclassified_ratio",
    "nme",
    "out_of_region_ratio",
    "pad_targets",
    "rotate_groups",
    "verification_distance",
]
