"""Build the report of a run: PNG plots, results.md, and a self-contained report.html."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from langadapt.output_guard import check_out_dir, write_marker
from langadapt.report.curves import curve_sentences
from langadapt.report.findings import findings
from langadapt.report.plots import Skip, plots
from langadapt.report.samples import speed_samples
from langadapt.report.samples import to_markdown as samples_markdown
from langadapt.report.seeds import seed_sentences, seed_tables
from langadapt.report.store import RunData, load_run, system_label
from langadapt.report.tables import (
    build_tables,
    fmt_value,
    headlines,
    signature_line,
    stage_table,
    table_signatures,
    to_markdown,
)
from langadapt.report.verdict import to_markdown as verdict_markdown
from langadapt.report.verdict import verdict_table
from langadapt.runs import atomic_write_text

log = logging.getLogger(__name__)
HEADLINE_FIGURES = ("curves", "bpb")  # the first of these that was drawn follows the verdict table


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    path: Path


@dataclass
class Report:
    """What `build_report` wrote, and the notes about what it skipped."""

    files: list[Path] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def draw_plots(run: RunData, out: Path, report: Report) -> None:
    """Draw every registered plot whose inputs are present; note the others."""
    for spec in plots():
        path = out / f"{spec.name}.png"
        try:
            caption = spec.fn(run, path)
        except Skip as e:
            path.unlink(missing_ok=True)  # a stale plot from an earlier report would mislead
            report.notes.append(f"{spec.title}: skipped ({e}; needs {spec.needs})")
            continue
        report.figures.append(Figure(spec.name, spec.title, caption, path))
        report.files.append(path)


def summary(run: RunData) -> list[str]:
    """The first-screen sentences: headlines, findings, learning curves, seeds."""
    return headlines(run) + findings(run) + curve_sentences(run) + seed_sentences(run)


def all_tables(run: RunData) -> list:
    return build_tables(run) + seed_tables(run)


def write_markdown(run: RunData, out: Path, report: Report) -> Path:
    parts = [f"# Results: {run.name}\n"]
    verdict = verdict_table(run)
    if verdict:
        parts.append("## Verdict\n\n" + verdict_markdown(verdict))
    parts += [f"{h}\n" for h in summary(run)]
    for t in all_tables(run):
        parts.append(f"## {t.title}\n\n{to_markdown(t)}")
    samples = speed_samples(run)
    if samples:
        parts.append("## Generated text samples\n\n" + samples_markdown(samples))
    for f in report.figures:
        parts.append(f"## {f.title}\n\n![{f.title}]({f.path.name})\n\n{f.caption}\n")
    if report.notes:
        parts.append("## Notes\n\n" + "".join(f"- {n}\n" for n in report.notes))
    parts.append("## Stages\n\n" + stage_table(run))
    sigs = "".join(f"- `{r.metric}` {system_label(r)} {r.dataset or ''}: `{signature_line(r.signature)}`\n"
                   for r in run.rows)
    if sigs:
        parts.append("## Signatures\n\n" + sigs)
    return atomic_write_text(out / "results.md", "\n".join(parts))


def write_html(run: RunData, out: Path, report: Report) -> Path:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("langadapt.report", "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["value"] = fmt_value
    env.filters["signature"] = signature_line
    figures = [{"name": f.name, "title": f.title, "caption": f.caption,
                "data": base64.b64encode(f.path.read_bytes()).decode("ascii")} for f in report.figures]
    first = next((f for name in HEADLINE_FIGURES for f in figures if f["name"] == name),
                 figures[0] if figures else None)
    html = env.get_template("report.html").render(
        name=run.name, created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        tables=[(t, table_signatures(t)) for t in all_tables(run)],
        summary=summary(run), headline=first, verdict=verdict_table(run), samples=speed_samples(run),
        figures=[f for f in figures if f is not first], notes=report.notes,
        stages=run.stages, n_rows=len(run.rows))
    return atomic_write_text(out / "report.html", html)


def build_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Report:
    """Write report.html, results.md and PNG plots for the run in `run_dir` into `out_dir`."""
    out = Path(out_dir or run_dir)
    own = out.resolve() != Path(run_dir).resolve()  # a folder of its own: new, or an earlier report's
    if own:
        check_out_dir(out, [run_dir])
    run = load_run(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    if own:
        write_marker(out, "report")
    report = Report()
    draw_plots(run, out, report)
    report.files.append(write_markdown(run, out, report))
    report.files.append(write_html(run, out, report))
    if out.resolve() != run.root.resolve() and (run.root / "results.jsonl").is_file():
        target = out / "results.jsonl"
        atomic_write_text(target, (run.root / "results.jsonl").read_text(encoding="utf-8"))
        report.files.append(target)
    log.info("report of %s written to %s (%d plots, %d notes)", run.name, out, len(report.figures),
             len(report.notes))
    return report
