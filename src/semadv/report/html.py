"""``semadv report RUN_DIR``: a self-contained HTML page (inline CSS, SVG figures, base64 images, no
JavaScript) plus ``summary.json``. Every user-provided string is escaped."""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from semadv.report.figures import bar_chart, heatmap, line_chart
from semadv.report.summary import find_runs, summarize_run

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1f2328}
h1{font-size:24px}h2{font-size:19px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:right}
th{background:#f6f8fa}td.l,th.l{text-align:left}.warn{background:#fff8c5;padding:6px 10px;border-radius:6px}
.grid{display:flex;flex-wrap:wrap;gap:10px}.figs{display:flex;flex-wrap:wrap;gap:16px}
.grid img{image-rendering:pixelated;width:72px;margin:1px;border:1px solid #ddd}
details pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
"""


def _pct(r: dict[str, float]) -> str:
    if r["n"] == 0:
        return "—"
    return f"{r['rate']:.1%} <small>[{r['ci_low']:.1%}, {r['ci_high']:.1%}]</small> <small>({r['k']}/{r['n']})</small>"


def _png_b64(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _image_grid(run: Path, limit: int = 8) -> str:
    d = run / "images"
    if not d.exists():
        return ""
    origs = sorted(d.glob("*_orig.png"))[:limit]
    rows = []
    for o in origs:
        a = o.with_name(o.name.replace("_orig", "_adv"))
        cells = [f'<img alt="original" src="{_png_b64(Image.open(o))}">']
        if a.exists():
            x = np.asarray(Image.open(o).convert("RGB"), dtype=float)
            y = np.asarray(Image.open(a).convert("RGB"), dtype=float)
            res = np.abs(y - x)
            res = (255 * res / max(res.max(), 1.0)).astype(np.uint8)
            cells += [
                f'<img alt="adversarial" src="{_png_b64(Image.open(a))}">',
                f'<img alt="residual (amplified)" src="{_png_b64(Image.fromarray(res))}">',
            ]
        rows.append("<div>" + "".join(cells) + f" <small>{escape(o.name[:6])}</small></div>")
    head = "original / adversarial / |residual| (amplified)" if any("adv" in r for r in rows) else "inputs"
    return f"<h3>{head}</h3><div class='grid'>" + "".join(rows) + "</div>"


def _run_section(s: dict[str, Any], run: Path) -> str:
    cfg = s["config"]
    h = [
        f"<h2>{escape(str(s['name']))}</h2>",
        f"<p>{escape(s['kind'])} · victim <code>{escape(str(cfg['victim'].get('zoo') or cfg['victim'].get('factory')))}"
        f"</code> · space <code>{escape(cfg['space']['name'])}</code> "
        f"<code>{escape(json.dumps(cfg['space']['params']))}</code> · search <code>{escape(cfg['search']['name'])}"
        f"</code> <code>{escape(json.dumps(cfg['search']['params']))}</code> · data "
        f"<code>{escape(cfg['data']['source'])}/{escape(cfg['data']['split'])}</code> · n = {s['n']}</p>",
    ]
    if not s["complete"]:
        h.append(
            f"<p class='warn partial'>⚠ partial run: {s['batches_done']} of {s['batches_total']} batches "
            f"committed; the numbers below are those of the first {s['n']} samples only. "
            "Rerun the same <code>semadv run</code> command to resume.</p>"
        )
    figs = []
    if s["kind"] == "certify":
        h.append(
            "<table><tr><th class='l'>metric</th><th>value (95% CI)</th></tr>"
            f"<tr><td class='l'>clean smoothed accuracy</td><td>{_pct(s['accuracy'])}</td></tr>"
            f"<tr><td class='l'>abstained</td><td>{_pct(s['abstain'])}</td></tr>"
            f"<tr><td class='l'>average certified radius</td><td>{s['acr']:.4f}</td></tr></table>"
        )
        c = s["curve"]
        figs.append(
            line_chart(
                {"certified accuracy": (c["radius"], c["certified_accuracy"])},
                "radius",
                "certified accuracy",
                bands={"certified accuracy": (c["ci_low"], c["ci_high"])},
            )
        )
    else:
        md = s["median_distance"]
        h.append(
            "<table><tr><th class='l'>metric</th><th>value (95% CI)</th></tr>"
            f"<tr><td class='l'>clean accuracy</td><td>{_pct(s['clean_accuracy'])}</td></tr>"
            f"<tr><td class='l'>attack success (on clean-correct)</td><td>{_pct(s['success_rate'])}</td></tr>"
            f"<tr><td class='l'>robust accuracy</td><td>{_pct(s['robust_accuracy'])}</td></tr>"
            f"<tr><td class='l'>median distance of successes</td><td>{'—' if md != md else f'{md:.4g}'}</td></tr>"
            f"<tr><td class='l'>mean queries</td><td>{s['mean_queries']:.1f}</td></tr></table>"
        )
        c = s["robust_curve"]
        figs.append(
            line_chart(
                {"robust accuracy": (c["budget"], c["robust_accuracy"])},
                "budget (space metric)",
                "robust accuracy",
                bands={"robust accuracy": (c["ci_low"], c["ci_high"])},
            )
        )
        if s.get("parameter_change"):
            figs.append(bar_chart(s["parameter_change"], "mean |Δ| (space units) of successes"))
        if s.get("transfer"):
            t = s["transfer"]
            figs.append(heatmap(t["matrix"], t["rows"], t["cols"], t.get("title", "transfer")))
        for w in s["warnings"]:
            h.append(f"<p class='warn'>⚠ {escape(w)}</p>")
    h.append("<div class='figs'>" + "".join(figs) + "</div>")
    h.append(_image_grid(run))
    h.append(
        "<details><summary>config and environment</summary><pre>"
        + escape(json.dumps({"config": cfg, "environment": s["environment"]}, indent=2))
        + "</pre></details>"
    )
    return "".join(h)


def build_report(path: str | Path, out: str | Path | None = None, title: str = "semadv report") -> Path:
    """Write ``report.html`` and ``summary.json`` for the run(s) at ``path``; returns the HTML path."""
    runs = find_runs(path)
    summaries = [summarize_run(r) for r in runs]
    target = Path(out) if out is not None else Path(path) / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    overview = ["<table><tr><th class='l'>run</th><th class='l'>kind</th><th>n</th><th>headline</th></tr>"]
    for s in summaries:
        head = (
            f"robust accuracy {s['robust_accuracy']['rate']:.1%}"
            if s["kind"] == "attack"
            else f"ACR {s['acr']:.3f}, accuracy {s['accuracy']['rate']:.1%}"
        )
        if not s["complete"]:
            head += f" (partial: {s['batches_done']} of {s['batches_total']} batches)"
        overview.append(
            f"<tr><td class='l'>{escape(str(s['name']))}</td><td class='l'>{escape(s['kind'])}</td>"
            f"<td>{s['n']}</td><td>{escape(head)}</td></tr>"
        )
    overview.append("</table>")
    body = "".join(_run_section(s, r) for s, r in zip(summaries, runs, strict=True))
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>" + "".join(overview) + body + "</body></html>"
    )
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    (target.parent / "summary.json").write_text(json.dumps(summaries, indent=2, default=str))
    return target
