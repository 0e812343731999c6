"""Inline SVG figures for self-contained HTML reports (no JavaScript, no external files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0a7b83")


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    width: int = 520,
    height: int = 300,
    bands: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> str:
    """Lines (x, y) per named series, y in [0, 1]; optional confidence bands (low, high) per series."""
    ml, mr, mt, mb = 50, 28, 10, 40
    xs = [x for xv, _ in series.values() for x in xv] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    W, H = width - ml - mr, height - mt - mb

    def px(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * W

    def py(y: float) -> float:
        return mt + (1 - max(0.0, min(1.0, y))) * H

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(ylabel)} vs {escape(xlabel)}">',
        f'<rect x="{ml}" y="{mt}" width="{W}" height="{H}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{ml}" x2="{ml + W}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e5e5e5"/>'
            f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end">{t:.2f}</text>'
        )
    for t in range(5):
        tick = x0 + (x1 - x0) * t / 4
        parts.append(
            f'<text x="{px(tick):.1f}" y="{mt + H + 16}" font-size="11" text-anchor="middle">{tick:.3g}</text>'
        )
    for k, (name, (xv, yv)) in enumerate(series.items()):
        col = PALETTE[k % len(PALETTE)]
        if bands and name in bands:
            lo, hi = bands[name]
            poly = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, hi, strict=False)] + [
                f"{px(a):.1f},{py(b):.1f}" for a, b in reversed(list(zip(xv, lo, strict=False)))
            ]
            parts.append(f'<polygon points="{" ".join(poly)}" fill="{col}" fill-opacity="0.15" stroke="none"/>')
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, yv, strict=False))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"/>')
        parts.append(f'<text x="{ml + 8}" y="{mt + 16 + 14 * k}" font-size="12" fill="{col}">{escape(name)}</text>')
    parts.append(f'<text x="{ml + W / 2}" y="{height - 6}" font-size="12" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(
        f'<text x="12" y="{mt + H / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {mt + H / 2})">{escape(ylabel)}</text></svg>'
    )
    return "".join(parts)


def bar_chart(values: dict[str, float], ylabel: str, width: int = 520, height: int = 260) -> str:
    """Vertical bars (values ≥ 0) with escaped labels."""
    ml, mt, mb = 50, 10, 70
    W, H = width - ml - 10, height - mt - mb
    vmax = max([*values.values(), 1e-12])
    n = max(1, len(values))
    bw = W / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(ylabel)}">',
        f'<rect x="{ml}" y="{mt}" width="{W}" height="{H}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for i, (name, v) in enumerate(values.items()):
        h = H * v / vmax
        x = ml + i * bw + bw * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{mt + H - h:.1f}" width="{bw * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(name)}: {v:.4g}</title></rect>'
        )
        parts.append(
            f'<text x="{x + bw * 0.35:.1f}" y="{mt + H + 12}" font-size="10" text-anchor="end" '
            f'transform="rotate(-40 {x + bw * 0.35:.1f} {mt + H + 12})">{escape(name)}</text>'
        )
    parts.append(f'<text x="{ml - 6}" y="{mt + 10}" font-size="11" text-anchor="end">{vmax:.3g}</text>')
    parts.append(
        f'<text x="12" y="{mt + H / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {mt + H / 2})">{escape(ylabel)}</text></svg>'
    )
    return "".join(parts)


def heatmap(
    matrix: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str], title: str, cell: int = 48
) -> str:
    """A matrix of values in [0, 1] (e.g. transfer success rates) as coloured cells with their values."""
    ml, mt = 120, 60
    width, height = ml + cell * len(cols) + 10, mt + cell * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for j, c in enumerate(cols):
        parts.append(
            f'<text x="{ml + cell * j + cell / 2}" y="{mt - 8}" font-size="11" text-anchor="middle">{escape(c)}</text>'
        )
    for i, r in enumerate(rows):
        parts.append(
            f'<text x="{ml - 6}" y="{mt + cell * i + cell / 2 + 4}" font-size="11" text-anchor="end">{escape(r)}</text>'
        )
        for j in range(len(cols)):
            v = max(0.0, min(1.0, float(matrix[i][j])))
            shade = int(255 - 200 * v)
            parts.append(
                f'<rect x="{ml + cell * j}" y="{mt + cell * i}" width="{cell}" height="{cell}" '
                f'fill="rgb(255,{shade},{shade})" stroke="#fff"/>'
                f'<text x="{ml + cell * j + cell / 2}" y="{mt + cell * i + cell / 2 + 4}" font-size="11" '
                f'text-anchor="middle">{v:.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
