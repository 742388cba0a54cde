"""Quantizing a GGUF file with the llama.cpp runtime's own `llama-quantize` binary.

The binary ships inside the runtime package (`langadapt.gen.llamacpp`); this module runs
it on a temp file, checks that every tensor came through (the tool exits 0 on some
failures), and only then gives the output its name.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

from langadapt.errors import DataError
from langadapt.gen.llamacpp import INSTALL, PACKAGE, default_threads, runtime_missing


def quantize(src: str | Path, dst: str | Path, type: str, *, threads: int | None = None) -> None:
    """Quantize the GGUF `src` to `type` (q8_0, q4_k_m, q4_0, q5_k_m, q6_k...) into `dst`.

    Runs the package's own `llama-quantize`; `dst` appears only when it succeeded. A
    failure is one DataError naming `src` and the tool's last line of error output.
    """
    if (why := runtime_missing()) is not None:
        raise DataError(why, file=str(src))
    import ik_llama_cpp

    tool = Path(ik_llama_cpp.__file__).parent / "bin" / "llama-quantize"
    if not tool.is_file():
        raise DataError(f"{PACKAGE} has no llama-quantize binary at {tool}; reinstall it: {INSTALL}",
                        file=str(src))
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise DataError("no such GGUF file", file=str(src))
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    cmd = [str(tool), str(src), str(tmp), type.upper(), str(threads or default_threads())]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if proc.returncode != 0 or not tmp.is_file():
            raise DataError(f"llama-quantize to {type} failed: {_tool_error(proc)}", file=str(src))
        # The tool exits 0 on a GGUF with no tensors and writes an empty model: count them.
        n_src, n_dst = _tensor_count(src), _tensor_count(tmp)
        if n_dst == 0 or n_dst != n_src:
            raise DataError(f"llama-quantize to {type} wrote {n_dst} of {n_src} tensors: "
                            f"{_tool_error(proc)}", file=str(src))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _tool_error(proc: subprocess.CompletedProcess) -> str:
    """The line of the tool's output that says why (its last line is a generic 'failed')."""
    lines = [x.strip() for x in (proc.stderr + proc.stdout).splitlines() if x.strip()]
    for line in reversed(lines):
        if "failed to quantize:" in line or "invalid ftype" in line or "unknown model" in line:
            return line
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _tensor_count(path: Path) -> int:
    """The tensor count of a GGUF header (read by hand: the `gguf` package refuses the fork's
    own tensor types, such as the Q6_0 that its Q5_K_M mixes contain)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 16 or head[:4] != b"GGUF":
        return 0
    return struct.unpack("<Q", head[8:16])[0]
