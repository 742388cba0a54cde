"""CLI group `langadapt train`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "train", "train: embeddings | lora | full; objectives cpt | sft | mt", "see the project's issue tracker")
