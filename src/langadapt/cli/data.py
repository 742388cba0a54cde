"""CLI group `langadapt data`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "data", "clean monolingual and parallel text", "see the project's issue tracker")
