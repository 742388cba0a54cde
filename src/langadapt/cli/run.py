"""CLI group `langadapt run`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "run", "run a YAML recipe end to end, with caching and resume", "see the project's issue tracker")
