"""Run directory layout, atomic files, result rows with signatures, provenance.

Layout of `runs/<name>/`:

    recipe.resolved.yaml     the recipe after overrides and placeholder expansion
    stages/<stage_id>/       one folder per stage; `DONE.json` marks it finished
    results.jsonl            one ResultRow per line (every stage appends)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from langadapt.errors import LangadaptError
from langadapt.names import folder_problem, inside
from langadapt.output_guard import check_out_dir, clean_stale, replace_dir, staging_dir, write_marker

DONE = "DONE.json"


# ---------------------------------------------------------------- atomic files
_UMASK_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask, read once (mkstemp/mkdtemp create 0600/0700 whatever it says)."""
    try:  # Linux reports it without changing it, so no other thread sees a changed umask
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` via a temp file + rename, so readers never see half a file."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_text_if_changed(path: str | Path, text: str) -> bool:
    """Atomically write `text` unless `path` already holds exactly it; True when it wrote.

    A re-run that changes nothing then leaves the file (and its modification time) alone.
    """
    path = Path(path)
    data = text.encode("utf-8")
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    atomic_write_bytes(path, data)
    return True


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Any]:
    """Write `path` through a binary file object: a temp file renamed into place on success.

    An exception inside the block leaves nothing at `path` (and no temp file behind).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: `output_guard.clean_stale` knows a dead writer's leftover
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_file(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def jsonl_text(records: Iterable[Any]) -> str:
    """JSON Lines: one record (a dict, or a ResultRow as `to_json` writes it) per line."""
    return "".join((r.to_json() if isinstance(r, ResultRow) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in records)


def atomic_write_jsonl(path: str | Path, records: Iterable[Any]) -> Path:
    return atomic_write_text(path, jsonl_text(records))


def _settle_modes(folder: Path) -> None:
    """Files a library wrote through mkstemp (0600: transformers' safetensors, for one) get
    the mode open() would have given them; any other mode is left as it was written."""
    mode = 0o666 & ~_umask()
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.stat().st_mode & 0o777 == 0o600 != mode:
            f.chmod(mode)


@contextlib.contextmanager
def atomic_dir(path: str | Path, inputs: Iterable[str | Path | None] = (), *, command: str | None = None,
               also_ours: Iterable[str] = (), owned: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path`; on success it replaces `path` whole.

    `path` must be new, empty or a folder langadapt wrote, and must not hold one of `inputs`
    (`output_guard.check_out_dir`; `owned`: the caller vouches it is langadapt's, e.g. a stage
    folder of a run folder; `also_ours`: files that mark an output written before the marker
    existed). The new folder carries the marker naming `command` (not when `owned`).
    Leftovers of a killed writer of `path` are removed first.
    """
    path = check_out_dir(path, [p for p in inputs if p], also_ours=also_ours, owned=owned)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    tmp = staging_dir(path)
    try:
        tmp.chmod(0o777 & ~_umask())  # as mkdir would create it, not mkdtemp's 0700
        if not owned:
            write_marker(tmp, command)
        yield tmp
        _settle_modes(tmp)
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------- hashing
def hash_obj(obj: Any) -> str:
    """Stable short hash of a JSON-able object (config hash)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def hash_files(paths: Iterable[str | Path]) -> str:
    """Content hash of files (and of every file under folders), independent of their location."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(f.name.encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def _stat_signature(path: Path) -> tuple:
    files = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
    return tuple((str(f), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])


@functools.lru_cache(maxsize=256)
def _hash_with_stats(path: str, stats: tuple) -> str:
    return hash_files([path])


def content_id(ref: str | Path, revision: str | None = None) -> str:
    """A local file or folder by its content hash (`sha:...`); a hub id by the commit its
    `revision` (default: main) points to in the local HF cache (`hub:org/name@<commit>`), so a
    new upload under the same name is a new key; anything else by name.

    Within one process a path whose files keep their sizes and modification times is
    hashed once, so naming the same large model folder in several keys costs one read.
    """
    path = Path(ref).expanduser()
    if not path.exists():
        if _HUB_ID.fullmatch(str(ref)):  # not downloaded yet: the revision's name until it is
            return f"hub:{ref}@{hub_commit(str(ref), revision) or revision or 'main'}"
        return str(ref)
    return f"sha:{_hash_with_stats(str(path.resolve()), _stat_signature(path))}"


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def hub_commit(repo_id: str, revision: str | None = None) -> str | None:
    """The commit a hub model's `revision` (default: main) is in the local HF cache, if there."""
    rev = revision or "main"
    if re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    from huggingface_hub.constants import HF_HUB_CACHE

    ref = Path(HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs" / rev
    return ref.read_text(encoding="utf-8").strip() if ref.is_file() else None


def code_version() -> str:
    """The version of langadapt that is running (`langadapt.__version__`)."""
    import langadapt

    return langadapt.__version__


def cache_key(parts: dict) -> str:
    """The key under which a cached result is reused: `parts` plus langadapt's version.

    Every cache (recipe stages, `model resize`, `model merge`, finished trainings,
    resumable translations) keys through here, so results computed by another version
    of langadapt are recomputed rather than reused. Name input files by `content_id`,
    not by path, so a file changed in place is not mistaken for the old one.
    """
    return hash_obj({"langadapt": code_version(), **parts})


# ---------------------------------------------------------------- provenance
_TOOLS = ("torch", "transformers", "peft", "tokenizers", "datatrove", "sacrebleu")


def tool_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Versions of langadapt (as running) and of the libraries behind its numbers."""
    out = {"langadapt": code_version()}
    for name in (*_TOOLS, *extra):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


@functools.lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The checkout's short commit, asked of git once per process (every score's signature names it)."""
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           cwd=Path(__file__).parent, timeout=5)
        return r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def signature(*, options: dict | None = None, seed: int | None = None, data: Iterable | None = None,
              config: Any = None, tools: Iterable[str] = ()) -> dict:
    """The provenance every score carries: versions, metric options, seed, hashes, git sha."""
    return {
        "tools": tool_versions(tools),
        "options": options or {},
        "seed": seed,
        "config_hash": hash_obj(config) if config is not None else None,
        "data_hash": hash_files(data) if data else None,
        "git": git_sha(),
    }


# ---------------------------------------------------------------- results
class ResultRow(BaseModel):
    """One score. Every `langadapt eval ... --json` prints rows of this shape."""

    metric: str
    value: float | None
    ci: list[float] | None = None
    n: int | None = None
    dataset: str | None = None
    model: str | None = None
    variant: str | None = None
    signature: dict = Field(default_factory=dict)
    extra: dict = Field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), ensure_ascii=False, default=str)


def read_results(path: str | Path) -> list[ResultRow]:
    path = Path(path)
    if not path.exists():
        return []
    return [ResultRow.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def write_results(path: str | Path, rows: Iterable[ResultRow]) -> Path:
    return atomic_write_jsonl(path, rows)


# ---------------------------------------------------------------- run store
class RunStore:
    """A run folder: stage folders with completion markers and one results file."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def results_path(self) -> Path:
        return self.root / "results.jsonl"

    def stage_dir(self, stage_id: str) -> Path:
        """`stages/<stage_id>`; an id that is not a safe folder name is refused."""
        return self._inside("stages", stage_id)

    def work_dir(self, stage_id: str) -> Path:
        """`cache/<stage_id>`: scratch that survives an interrupted attempt of the stage."""
        return self._inside("cache", stage_id)

    def _inside(self, area: str, stage_id: str) -> Path:
        problem = folder_problem(stage_id)
        if problem:
            raise LangadaptError(problem)
        return inside(self.root, self.root / area / stage_id)

    def done_info(self, stage_id: str) -> dict | None:
        marker = self.stage_dir(stage_id) / DONE
        return json.loads(marker.read_text()) if marker.exists() else None

    def is_done(self, stage_id: str, key: str) -> bool:
        info = self.done_info(stage_id)
        return bool(info and info.get("key") == key)

    def mark_done(self, stage_id: str, key: str, info: dict | None = None) -> None:
        atomic_write_json(self.stage_dir(stage_id) / DONE, {"key": key, **(info or {})})

    def results(self) -> list[ResultRow]:
        return read_results(self.results_path)

    def replace_results(self, stage_id: str, rows: Iterable[ResultRow]) -> None:
        """Replace the rows of one stage (tagged in `extra.stage`) and keep the others."""
        rows = list(rows)
        for r in rows:
            r.extra["stage"] = stage_id
        kept = [r for r in self.results() if r.extra.get("stage") != stage_id]
        write_results(self.results_path, kept + rows)
