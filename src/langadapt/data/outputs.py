"""Pipeline outputs: intermediate shards, final `data/*.jsonl.gz`, rejected samples.

Every file is written to a temp name and renamed when complete, and gzip headers
carry no timestamp, so an interrupted and resumed run produces the same bytes as
an uninterrupted one. Hand-written rather than datatrove's JsonlWriter, whose gzip
headers carry the write time.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from langadapt.data.dedup import content_hash, save_hashes
from langadapt.data.shares import LineOffsets
from langadapt.runs import atomic_file, atomic_write_bytes


def _record(doc: Document) -> str:
    return (
        json.dumps(
            {"text": doc.text, "id": doc.id, "metadata": doc.metadata}, ensure_ascii=False, sort_keys=True
        )
        + "\n"
    )


def gzip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as f:
        f.write(text.encode("utf-8"))
    return buf.getvalue()


class ShardWriter(PipelineStep):
    """Write task `rank`'s documents to `folder/<rank>.jsonl[.gz]`; optionally their exact hashes."""

    name = "write"
    type = "💽 - WRITER"

    def __init__(self, folder: str, compress: bool = True, hashes_folder: str | None = None):
        super().__init__()
        self.folder, self.compress, self.hashes_folder = folder, compress, hashes_folder

    def run(self, data, rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        suffix = ".jsonl.gz" if self.compress else ".jsonl"
        hashes: list[int] = []
        # the one atomic writer (temp file renamed on success, removed on any error), streamed
        with atomic_file(Path(self.folder) / f"{rank:05d}{suffix}") as raw:
            out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if self.compress else raw
            for doc in data or ():
                out.write(_record(doc).encode("utf-8"))
                if self.hashes_folder:
                    hashes.append(content_hash(doc.text))
                self.stat_update("documents")
                self.stat_update("characters", value=len(doc.text), unit="char")
                yield doc
            if out is not raw:
                out.close()  # the gzip trailer; `raw` stays open for atomic_file to sync and rename
        if self.hashes_folder:
            save_hashes(Path(self.hashes_folder), rank, hashes)


class ShardReader(PipelineStep):
    """Read back what `ShardWriter(compress=False)` wrote for task `rank`.

    With `lines_folder`, documents from a byte range of a split input get the line
    they have in their file (`shares.LineOffsets`).
    """

    name = "read_shard"
    type = "📖 - READER"

    def __init__(self, folder: str, lines_folder: str | None = None):
        super().__init__()
        self.folder, self.lines_folder = folder, lines_folder

    def run(self, data=None, rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        offsets = LineOffsets(self.lines_folder) if self.lines_folder else None
        with open(Path(self.folder) / f"{rank:05d}.jsonl", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                meta, doc_id = rec["metadata"], rec["id"]
                if offsets is not None:
                    doc_id = offsets.fix(doc_id, meta)
                yield Document(text=rec["text"], id=doc_id, metadata=meta)


class RejectSink:
    """Exclusion writer for datatrove filters: keeps the first `limit` documents per reason.

    Writes `folder/<step>.<rank>.jsonl` when the filter finishes; `merge_rejects`
    turns them into `rejected/<reason>.jsonl.gz`.
    """

    def __init__(self, folder: str, step: str, default_reason: str, limit: int = 100):
        self.folder, self.step, self.default_reason, self.limit = folder, step, default_reason, limit
        self._kept: dict[str, list[str]] = {}
        self._rank = 0

    def __enter__(self) -> RejectSink:
        self._kept = {}
        return self

    def write(self, doc: Document, rank: int = 0) -> None:
        self._rank = rank
        reason = doc.metadata.pop("filter_reason", None) or self.default_reason
        bucket = self._kept.setdefault(reason, [])
        if len(bucket) < self.limit:
            rec = {"reason": reason, "text": doc.text, "id": doc.id, "metadata": doc.metadata}
            bucket.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))

    def __exit__(self, *exc) -> None:
        if exc[0] is None and self._kept:
            lines = [ln for reason in sorted(self._kept) for ln in self._kept[reason]]
            atomic_write_bytes(
                Path(self.folder) / f"{self.step}.{self._rank:05d}.jsonl",
                "".join(x + "\n" for x in lines).encode(),
            )


def _fix_line(line: str, offsets: LineOffsets) -> str:
    """A rejected sample from a byte range of a split input, with its line in the file."""
    rec = json.loads(line)
    if "part" not in rec["metadata"]:
        return line
    rec["id"] = offsets.fix(rec["id"], rec["metadata"])
    return json.dumps(rec, ensure_ascii=False, sort_keys=True)


def merge_rejects(folder: Path, out: Path, limit: int) -> dict[str, int]:
    """Merge per-task reject samples into `out/<reason>.jsonl.gz` (task order); return counts.

    Line numbers of split inputs are completed from the `lines` folder beside `folder`.
    """
    by_reason: dict[str, list[str]] = {}
    offsets = LineOffsets(folder.parent / "lines")
    for part in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for line in part.read_text(encoding="utf-8").splitlines():
            line = _fix_line(line, offsets)
            reason = json.loads(line)["reason"]
            if len(by_reason.setdefault(reason, [])) < limit:
                by_reason[reason].append(line)
    for reason, lines in by_reason.items():
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in reason)
        atomic_write_bytes(out / f"{safe}.jsonl.gz", gzip_bytes("".join(x + "\n" for x in lines)))
    return {r: len(v) for r, v in by_reason.items()}
