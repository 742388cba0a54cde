"""CLI group `langadapt translate`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "translate", "batched, resumable translation of text or JSONL fields", "see the project's issue tracker")
