"""CLI group `langadapt report`: build report.html, results.md and plots from a run folder."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="build report.html, results.md and plots from a run folder",
        description="Read a run folder (results.jsonl, stage folders) and write a self-contained "
                    "report.html, results.md and PNG plots.")
    p.add_argument("run_dir", help="run folder, e.g. runs/quickstart")
    p.add_argument("--out", default=None, help="output folder (default: the run folder)")
    p.set_defaults(func=_report)


def _report(args) -> int:
    from langadapt.report import build_report

    written = build_report(args.run_dir, args.out or args.run_dir)
    for path in written.files:
        print(f"wrote {path}")
    for note in written.notes:
        print(f"note: {note}")
    return 0
