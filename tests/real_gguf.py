"""The real GGUF checkpoints of the model cache, for tests: found or skipped, imported once per run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from shared_cache import shared_dir

from langadapt.models import fetch


def cached_gguf(name: str) -> Path:
    """The cached checkpoint `name`, or skip the test saying how to fetch it."""
    path = fetch.cached_path(name)
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the model cache {path.parent} "
                    f"(run 'make models' or 'langadapt model fetch {name}')")
    return path


def import_once(tmp_path_factory, name: str) -> tuple[Path, Path]:
    """(gguf path, imported HF folder) of the checkpoint `name`.

    The import is kept under the file's SHA-256, so every test (and worker) that asks for
    the same checkpoint reads one folder.
    """
    from langadapt.models.gguf import import_gguf

    src = cached_gguf(name)
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    key = f"gguf-import-{digest.hexdigest()[:20]}"
    return src, shared_dir(tmp_path_factory, key, lambda out: import_gguf(src, out))
