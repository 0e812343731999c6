"""Reports: summaries of run directories, SVG figures and a self-contained HTML page."""

from semadv.report.html import build_report
from semadv.report.summary import find_runs, summarize_run

__all__ = ["build_report", "find_runs", "summarize_run"]
