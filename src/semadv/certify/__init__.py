"""Certification by randomized smoothing in any space (seed 002 §3.6), with base-classifier adapters."""

from semadv.certify.audit import AuditReport, RegionSpace, audit
from semadv.certify.classifiers import GalleryClassifier, LogitsClassifier, VerificationClassifier
from semadv.certify.noise import Anisotropic, Isotropic, NoiseModel
from semadv.certify.smoothing import (
    ABSTAIN,
    Certificate,
    Smoothing,
    average_certified_radius,
    certified_accuracy,
)

__all__ = [
    "ABSTAIN",
    "Anisotropic",
    "AuditReport",
    "Certificate",
    "GalleryClassifier",
    "Isotropic",
    "LogitsClassifier",
    "NoiseModel",
    "RegionSpace",
    "Smoothing",
    "VerificationClassifier",
    "audit",
    "average_certified_radius",
    "certified_accuracy",
]
