"""Procedural and bundled worlds (data with exact ground truth)."""

from semadv.worlds.digits import load_digits

__all__ = ["load_digits"]
