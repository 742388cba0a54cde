"""CLI group `langadapt report`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "report", "build report.html, results.md and plots from a run folder", "see the project's issue tracker")
