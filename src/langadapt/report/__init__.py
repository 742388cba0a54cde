"""Reports from a run folder: tables, PNG plots, a self-contained report.html, results.md.

`build_report(run_dir, out_dir)` reads only the run store (results.jsonl, stage folders
with their DONE.json markers and logs). Plots are small registered functions
(`langadapt.report.plots.register_plot`) that are skipped, with a note, when the rows or
files they need are absent.
"""

from langadapt.report.build import Report, build_report

__all__ = ["Report", "build_report"]
