"""A user's model module for the bring-your-own-victim test (imported by dotted path)."""

from torch import nn


def small_mlp(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(256, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def not_a_model() -> str:
    return "nope"
