"""``register / build / list`` registries for spaces, searches and goals (timm-style).

Example::

    @register("search", "pgd")
    class PGD: ...

    search = build("search", "pgd", steps=20)
    names = list_registered("search")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from semadv.errors import RegistryError

KINDS = ("space", "search", "goal")
_REGISTRY: dict[str, dict[str, Callable[..., Any]]] = {k: {} for k in KINDS}

T = TypeVar("T", bound=Callable[..., Any])


def _kind(kind: str) -> dict[str, Callable[..., Any]]:
    key = kind[:-1] if kind.endswith("s") and kind[:-1] in _REGISTRY else kind
    if key not in _REGISTRY:
        raise RegistryError(f"unknown registry kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _REGISTRY[key]


def register(kind: str, name: str) -> Callable[[T], T]:
    """Class/function decorator adding a factory under ``name`` to the ``kind`` registry."""

    table = _kind(kind)

    def deco(obj: T) -> T:
        if name in table and table[name] is not obj:
            raise RegistryError(f"{kind} {name!r} is already registered to {table[name]!r}")
        table[name] = obj
        return obj

    return deco


def build(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Instantiate the ``kind`` component registered as ``name`` with the given arguments."""

    _ensure_loaded()
    table = _kind(kind)
    if name not in table:
        raise RegistryError(f"unknown {kind} {name!r}; registered {kind}s: {', '.join(sorted(table)) or '(none)'}")
    return table[name](*args, **kwargs)


def lookup(kind: str, name: str) -> Callable[..., Any]:
    """The factory registered as ``name`` (without calling it)."""

    _ensure_loaded()
    table = _kind(kind)
    if name not in table:
        raise RegistryError(f"unknown {kind} {name!r}; registered: {', '.join(sorted(table))}")
    return table[name]


def list_registered(kind: str) -> list[str]:
    """Sorted names registered under ``kind`` (``"space"``, ``"search"`` or ``"goal"``)."""

    _ensure_loaded()
    return sorted(_kind(kind))


def _ensure_loaded() -> None:
    # Importing the packages runs their @register decorators; done lazily (no import-time side effects
    # in this module itself).
    import semadv.goals
    import semadv.search
    import semadv.spaces  # noqa: F401
