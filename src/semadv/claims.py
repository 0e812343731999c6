"""Claims: a paper's headline statements, checked against what an experiment measured here.

Each recipe's experiment module declares its paper's headline claims as :class:`Claim` objects. A claim
holds a ``measure`` function that reads the experiments' result JSON (the numbers the code measured — never
typed in) and returns a :class:`Measurement`: the measured values, the sample size and a verdict.
:func:`evaluate_claims` turns them into the rows of ``docs/results/<recipe>/claims.json``::

    [{"id": "F2-best-avg-worst", "claim": "...", "paper": "...", "measured": {...}, "n": 102,
      "verdict": "holds", "note": "..."}]

and :func:`claims_table` into the "Claims" table every results page opens with.

Verdicts: ``holds`` (the measured effect has the paper's direction and passes the stated test),
``partly holds`` (some of the claim's parts hold), ``does not hold``, ``not measured`` (the experiment the
claim rests on has not been run, or its result lacks the numbers).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semadv.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["VERDICTS", "Claim", "Measurement", "claims_table", "evaluate_claims", "verdict_of", "write_claims"]

VERDICTS = ("holds", "partly holds", "does not hold", "not measured")

Results = Mapping[str, Mapping[str, Any]]


def verdict_of(holding: int, total: int) -> str:
    """``holds`` when all ``total`` parts hold, ``partly holds`` when some do, else ``does not hold``."""
    return "holds" if total and holding == total else ("partly holds" if holding else "does not hold")


@dataclass(frozen=True)
class Measurement:
    """What one claim's measure found: values, sample size, verdict and a one-line explanation."""

    measured: dict[str, Any]
    n: int | dict[str, int]
    verdict: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise InputError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """A headline claim of a paper.

    Args:
        id: stable identifier (the issue tracker and tests refer to it).
        claim: the statement, in the paper's terms.
        paper: what the paper reports (table / figure and its numbers).
        measure: results by experiment name → :class:`Measurement`, or ``None`` when the experiments it
            needs are absent (reported as *not measured*).
        needs: experiment names the claim reads (for the "not measured" note).
    """

    id: str
    claim: str
    paper: str
    measure: Callable[[Results], Measurement | None]
    needs: tuple[str, ...] = field(default_factory=tuple)


def evaluate_claims(claims: Sequence[Claim], results: Results) -> list[dict[str, Any]]:
    """The claims.json rows of ``claims`` for the experiments' ``results``.

    A measure that finds its experiments missing returns ``None`` → verdict *not measured*; a measure that
    raises ``KeyError`` (an older result JSON without the field) is reported the same way, naming the key.
    """
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise InputError(f"claim ids must be unique; got {ids}")
    rows: list[dict[str, Any]] = []
    for c in claims:
        missing = [e for e in c.needs if e not in results]
        m: Measurement | None
        if missing:
            m = None
            note = f"experiment(s) not run: {', '.join(missing)}"
        else:
            try:
                m = c.measure(results)
                note = "" if m is not None else "the experiment's result lacks this measurement"
            except KeyError as err:
                m, note = None, f"result field missing: {err}"
        if m is None:
            m = Measurement({}, 0, "not measured", note)
        rows.append(
            {
                "id": c.id,
                "claim": c.claim,
                "paper": c.paper,
                "measured": _clean(m.measured),
                "n": m.n,
                "verdict": m.verdict,
                "note": m.note,
            }
        )
    return rows


def _clean(v: Any) -> Any:
    """JSON-safe values: NaN/inf become None, floats rounded to 4 significant digits."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float):
        return None if not math.isfinite(v) else float(f"{v:.4g}")
    return v


def write_claims(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write the rows atomically as JSON."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, p)
    return p


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def claims_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown "Claims" section built from claims.json rows."""
    if not rows:
        return ""
    lines = [
        "## Claims",
        "",
        "Generated from `claims.json` (each row's numbers come from the experiment JSON beside it).",
        "",
        "| id | claim | paper | measured here | n | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        measured = _fmt(r["measured"]) + (f" — {r['note']}" if r.get("note") else "")
        cells = [f"`{r['id']}`", r["claim"], r["paper"], measured, _fmt(r["n"]), f"**{r['verdict']}**"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"
