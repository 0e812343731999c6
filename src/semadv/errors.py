"""Typed exceptions. Every message names the offending value (DESIGN §5, principle 6)."""

from __future__ import annotations


class SemadvError(Exception):
    """Base class of every error raised on purpose by semadv."""


class InputError(SemadvError, ValueError):
    """A tensor or argument has a bad value, range, rank or batch size."""


class ConstraintError(InputError):
    """A constraint was configured with an invalid budget or metric (ε ≤ 0, M not SPD, …)."""


class NonFiniteError(InputError):
    """A victim, generator or goal produced NaN or infinite values."""


class RegistryError(SemadvError, KeyError):
    """An unknown name was asked of a registry, or a name was registered twice."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class IncompatibleError(SemadvError, TypeError):
    """Parts that cannot work together were composed (e.g. a gradient search on a black-box space)."""
