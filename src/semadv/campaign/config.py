"""Campaign configuration: TOML files whose sections mirror the concepts (victim, space, goal, search,
data, run, certify), with ``base = "other.toml"`` inheritance and ``--set a.b=c`` overrides, validated by
pydantic. Every error names the key path and the bad value (:class:`ConfigError`)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from semadv.errors import InputError


class ConfigError(InputError):
    """A campaign configuration is invalid; the message lists each bad key path and value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VictimConfig(_Section):
    """``zoo = "NAME"`` or ``factory = "package.module:callable"`` (imported, never evaluated) with
    ``kwargs``, optional ``weights`` (safetensors) and a declared input normalisation."""

    zoo: str | None = None
    factory: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None
    mean: list[float] | None = None
    std: list[float] | None = None

    @field_validator("factory")
    @classmethod
    def _factory_syntax(cls, v: str | None) -> str | None:
        if v is not None:
            mod, _, attr = v.partition(":")
            ok = (
                mod
                and attr
                and all(p.isidentifier() for p in mod.split("."))
                and all(p.isidentifier() for p in attr.split("."))
            )
            if not ok:
                raise ValueError(f"factory must look like 'package.module:callable'; got {v!r}")
        return v


class ComponentConfig(_Section):
    """A registry component: ``name`` plus keyword ``params``."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class DataConfig(_Section):
    source: Literal["digits", "faces", "streets"] = "digits"
    split: Literal["train", "val", "test"] = "test"
    n: int = Field(100, ge=1, le=1_000_000)
    seed: int = 0


class RunConfig(_Section):
    kind: Literal["attack", "certify"] = "attack"
    batch_size: int = Field(32, ge=1, le=65536)
    seed: int = 0
    shards: int = Field(1, ge=1, le=100_000)
    shard: int = Field(0, ge=0)
    backend: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1, le=1024)
    address: str | None = None
    save_images: bool = True
    threads: int = Field(0, ge=0, le=256)


class CertifyConfig(_Section):
    sigma: float = Field(0.1, gt=0)
    n0: int = Field(100, ge=1)
    n: int = Field(1000, ge=1)
    alpha: float = Field(0.001, gt=0, lt=1)
    coordinates: Literal["raw", "whitened"] = "whitened"


class CampaignConfig(_Section):
    name: str = Field("campaign", min_length=1, max_length=200)
    victim: VictimConfig
    space: ComponentConfig
    goal: ComponentConfig = ComponentConfig(name="misclassify")
    search: ComponentConfig = ComponentConfig(name="pgd")
    data: DataConfig = DataConfig()
    run: RunConfig = RunConfig()
    certify: CertifyConfig | None = None


#: a child section naming a different component replaces the base section instead of merging into it
_REPLACE_WHEN = {"space": ("name",), "goal": ("name",), "search": ("name",), "victim": ("zoo", "factory")}


def _merge(base: dict[str, Any], child: dict[str, Any], top: bool = True) -> dict[str, Any]:
    out = dict(base)
    for k, v in child.items():
        replace = top and isinstance(v, dict) and any(key in v for key in _REPLACE_WHEN.get(k, ()))
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not replace:
            out[k] = _merge(out[k], v, top=False)
        else:
            out[k] = v
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"base: inheritance cycle through {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as err:
        raise ConfigError(f"config file not found: {path}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text") from err
    except OSError as err:  # a directory, no read permission, I/O error
        raise ConfigError(f"cannot read config {path}: {err.strerror or err}") from err
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"base: must be a path string; got {base!r}")
    return _merge(_read(path.parent / base, (*seen, path)), raw)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=c"`` → (["a", "b"], value); the value is read as a TOML literal, else kept as a string."""
    key, sep, value = item.partition("=")
    path = key.strip().split(".")
    if not sep or not all(p.strip() for p in path):
        raise ConfigError(f"--set expects key.path=value; got {item!r}")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return [p.strip() for p in path], parsed


def _format(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        bad = e.get("input")
        shown = repr(bad)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"{loc}: {e['msg']} (got {shown})")
    return "invalid campaign config:\n  " + "\n  ".join(lines)


def validate(data: dict[str, Any]) -> CampaignConfig:
    """Validate a raw dict into a :class:`CampaignConfig` or raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a table; got {type(data).__name__}")
    try:
        cfg = CampaignConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err)) from None
    if (cfg.victim.zoo is None) == (cfg.victim.factory is None):
        raise ConfigError(
            f"victim: give exactly one of zoo or factory (got zoo={cfg.victim.zoo!r}, factory={cfg.victim.factory!r})"
        )
    if cfg.run.shard >= cfg.run.shards:
        raise ConfigError(f"run.shard: must be < run.shards={cfg.run.shards} (got {cfg.run.shard})")
    if cfg.run.kind == "certify" and cfg.certify is None:
        raise ConfigError("certify: section required when run.kind = 'certify'")
    if cfg.victim.zoo is not None:
        from semadv.zoo import entries

        if cfg.victim.zoo not in entries():
            raise ConfigError(f"victim.zoo: unknown zoo model {cfg.victim.zoo!r} (available: {', '.join(entries())})")
    _check_components(cfg)
    return cfg


def _check_components(cfg: CampaignConfig) -> None:
    """Every component must exist and accept its parameters (built once here, before any run starts)."""
    from semadv.errors import SemadvError
    from semadv.registry import build, list_registered

    for section, kind in (("space", "space"), ("goal", "goal"), ("search", "search")):
        comp = getattr(cfg, section)
        if comp.name not in list_registered(kind):
            known = ", ".join(list_registered(kind))
            raise ConfigError(f"{section}.name: unknown {kind} {comp.name!r} (registered: {known})")
        try:
            build(kind, comp.name, **comp.params)
        except (SemadvError, TypeError, ValueError) as err:
            raise ConfigError(f"{section}.params: {err} (got {comp.params!r})") from None


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), data: dict[str, Any] | None = None
) -> CampaignConfig:
    """Read ``path`` (with ``base`` inheritance) or take ``data``, apply ``--set`` overrides, validate."""
    raw = _read(Path(path)) if path is not None else copy.deepcopy(data or {})
    if isinstance(raw, dict):
        for section, default in (("goal", "misclassify"), ("search", "pgd")):
            if section not in raw:
                raw[section] = {"name": default}
    for item in overrides:
        keys, value = parse_override(item)
        node = raw
        for k in keys[:-1]:
            if not isinstance(node.get(k, {}), dict):
                raise ConfigError(f"--set {item!r}: {k!r} is not a table")
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return validate(raw)
