"""Generic stage kinds that belong to no single capability.

* `text.split` — shuffle documents from text files (with the run's seed) and write a
  disjoint `train.txt` / `heldout.txt`, so a recipe can train on part of a corpus and
  measure bits per byte on text the model never saw.
"""

from __future__ import annotations

import random

from pydantic import Field

from langadapt.config import StrictModel
from langadapt.errors import DataError
from langadapt.runs import ResultRow, atomic_write_json, atomic_write_text
from langadapt.stages import Stage, StageContext, register_stage
from langadapt.textio import iter_texts


@register_stage
class TextSplit(Stage):
    """Shuffle documents and split them into disjoint training and held-out files."""

    kind = "text.split"

    class Options(StrictModel):
        inputs: list[str] = Field(min_length=1)   # text files or folders (.txt, .jsonl[.gz|.zst])
        heldout: int = Field(200, ge=1)           # documents kept out of training
        train: int | None = Field(None, ge=1)     # documents for training (None: all the rest)
        min_chars: int = Field(1, ge=1)           # drop shorter documents (e.g. one-word lines)
        dedup: bool = True                        # exact duplicates would leak held-out text
        field: str = "text"                       # JSONL field holding the text

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        docs = [d for d in iter_texts(opts.inputs, field=opts.field) if len(d.strip()) >= opts.min_chars]
        n_read = len(docs)
        if opts.dedup:
            docs = list(dict.fromkeys(docs))
        random.Random(ctx.seed).shuffle(docs)
        if len(docs) <= opts.heldout:
            raise DataError(f"only {len(docs)} documents: fewer than heldout={opts.heldout} + 1",
                            file=", ".join(opts.inputs))
        heldout = docs[:opts.heldout]
        train = docs[opts.heldout:]
        if opts.train is not None:
            train = train[:opts.train]
        atomic_write_text(ctx.out_dir / "heldout.txt", "".join(d + "\n" for d in heldout))
        atomic_write_text(ctx.out_dir / "train.txt", "".join(d + "\n" for d in train))
        atomic_write_json(ctx.out_dir / "stats.json", {
            "read": n_read, "duplicates": n_read - len(docs), "heldout": len(heldout),
            "train": len(train), "train_chars": sum(map(len, train)),
            "heldout_chars": sum(map(len, heldout))})
        return []
