"""Where bundled data and tokenizers are found: local folders first, hub ids otherwise.

`LANGADAPT_DATA` (default `../shared/data`) and `LANGADAPT_TOKENIZERS` (default
`../shared/tokenizers`) are resolved against the working directory, then against the
repository root, so `make quickstart` works from a fresh clone. `LANGADAPT_MODELS`
(default `$XDG_CACHE_HOME/langadapt/models`, else `~/.cache/langadapt/models`) is the
cache that `langadapt model fetch` fills with downloaded checkpoints; `LANGADAPT_TOKENIZED`
(default `.../langadapt/tokenized` beside it) the cache of token shards (`data tokenize`).
"""

from __future__ import annotations

import os
from pathlib import Path

from langadapt.errors import DataError

_REPO_ROOT = Path(__file__).resolve().parents[2]
_SETTINGS = {"data": ("LANGADAPT_DATA", "../shared/data"),
             "tokenizers": ("LANGADAPT_TOKENIZERS", "../shared/tokenizers")}


def _root(kind: str, required: bool) -> Path | None:
    env, default = _SETTINGS[kind]
    raw = os.environ.get(env, default)
    candidates = [Path(raw)] if Path(raw).is_absolute() else [Path.cwd() / raw, _REPO_ROOT / raw]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    if required:
        raise DataError(f"no {kind} folder found at '{raw}': set {env} to the folder that holds it")
    return None


def data_root(required: bool = True) -> Path | None:
    """The folder with the bundled language data (`LANGADAPT_DATA`)."""
    return _root("data", required)


def tokenizers_root(required: bool = True) -> Path | None:
    """The folder with local tokenizers (`LANGADAPT_TOKENIZERS`)."""
    return _root("tokenizers", required)


def _cache_root(env: str, name: str) -> Path:
    raw = os.environ.get(env)
    if raw:
        return Path(raw).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return (Path(cache).expanduser() / "langadapt" / name).resolve()


def models_root() -> Path:
    """The cache folder for downloaded model files (`LANGADAPT_MODELS`); it may not exist yet."""
    return _cache_root("LANGADAPT_MODELS", "models")


def tokenized_root() -> Path:
    """The cache folder for token shards (`LANGADAPT_TOKENIZED`); it may not exist yet."""
    return _cache_root("LANGADAPT_TOKENIZED", "tokenized")


def expand(value: str) -> str:
    """Expand `${data}`, `${tokenizers}` and `${models}` placeholders (and environment variables)."""
    if "${models}" in value:
        value = value.replace("${models}", str(models_root()))
    if "${data}" in value:
        value = value.replace("${data}", str(data_root()))
    if "${tokenizers}" in value:
        value = value.replace("${tokenizers}", str(tokenizers_root()))
    return os.path.expandvars(value)


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return `path` if it exists, else raise a DataError naming it."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{what} not found", file=str(p))
    return p
