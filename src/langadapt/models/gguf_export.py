"""Export an HF model folder (or a PEFT adapter, merged first) as one GGUF file that llama.cpp runs.

f32, f16 and bf16 files are written by the `gguf` package's `GGUFWriter`; quantized types
(q8_0, q4_k_m, ...) are written as f32 first and then quantized by llama.cpp's own
`llama-quantize` (`langadapt.gen.llamacpp_quantize.quantize`), never by a kernel of ours. The file
is checked in the llama.cpp runtime against the HF model before it takes its name
(`langadapt.models.gguf_verify`); a file that fails is removed. Beside it go
`OUT.gguf.verify.json` (the check), `OUT.gguf.export.json` (what was exported, how long it
took) and `OUT.Modelfile` for `ollama create`.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from langadapt.config import StrictModel
from langadapt.errors import ConfigError

log = logging.getLogger(__name__)

# Written by GGUFWriter directly; the others go through llama-quantize from an f32 file.
DIRECT_TYPES = ("f32", "f16", "bf16")
QUANT_TYPES = ("q8_0", "q6_k", "q5_k_m", "q5_0", "q4_k_m", "q4_k_s", "q4_0")
TYPES = (*DIRECT_TYPES, *QUANT_TYPES)
EXPORT_INFO = ".export.json"     # suffix of the record beside an export: it marks the file as ours
VERIFY_INFO = ".verify.json"
# Without --check-text the runtime check reads these lines: any tokenizer encodes them.
DEFAULT_CHECK_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "In 2023, the city council approved a budget of 4.5 million dollars for new schools.",
    "She asked whether the train would arrive on time, but nobody knew the answer.",
    "Water boils at 100 degrees Celsius at sea level.",
)

# Check texts whose next-token logits are compared (all of them are tokenized).
LOGIT_TEXTS = 16


class ExportOptions(StrictModel):
    """A GGUF export: one definition for `export_gguf`, `langadapt model export` and `model.export`."""

    model: str = Field(description="HF model folder or PEFT adapter folder (merged into its base first)")
    type: Literal[TYPES] = Field("f32", description="weight type of the file: f32, f16, bf16 (written "
                                 "directly) or a llama.cpp quantization (q8_0, q4_k_m, ...)")
    check_text: list[str] | None = Field(None, description="text file(s) whose every line the llama.cpp "
                                         "check tokenizes, and 16 of them it scores (default: a few "
                                         "built-in English lines)")
    verify: bool = Field(True, description="check the file in llama.cpp against the HF model before "
                         "keeping it")
    base: str | None = Field(None, description="base model of an adapter (default: the one it names)")
    threads: int | None = Field(None, ge=1, description="CPU threads for quantizing and the check "
                                "(default: all cores)")
    modelfile: bool = Field(True, description="write OUT.Modelfile beside the file for 'ollama create'")


def sidecar(out: Path, suffix: str) -> Path:
    """`OUT.gguf.verify.json`-style names beside the export; `.Modelfile` replaces the suffix."""
    return out.with_suffix(".Modelfile") if suffix == ".Modelfile" else out.with_name(out.name + suffix)


def check_export_out(out: str | Path, inputs: list[str | Path | None],
                     modelfile: bool = True) -> Path:
    """Refuse (ConfigError) an output that is an input, a folder, or a file no earlier export wrote."""
    from langadapt.output_guard import check_out_file

    path = check_out_file(out, [p for p in inputs if p])
    if path.suffix != ".gguf":
        raise ConfigError(f"output file '{out}' must end in .gguf", key="out")
    ours = sidecar(path, EXPORT_INFO).is_file()
    for target in [path] + ([sidecar(path, ".Modelfile")] if modelfile else []):
        if os.path.lexists(target) and not ours:
            raise ConfigError(f"'{target}' exists and is not an earlier 'langadapt model export' "
                              f"(no {sidecar(path, EXPORT_INFO).name} beside it); remove it or name "
                              "another file", key="out")
    return path


def export_gguf(model: str | Path, out: str | Path, *, type: str = "f32",
                check_texts: list[str | Path] | None = None, verify: bool = True,
                base: str | Path | None = None, threads: int | None = None,
                modelfile: bool = True) -> Path:
    """Write `model` (an HF folder or a PEFT adapter) as the GGUF file `out` and return its path.

    Args:
        model: HF model folder or adapter folder (merged into `base` or the base it names).
        out: the `.gguf` file; replaced only when it is an earlier export.
        type: f32, f16, bf16, or a llama.cpp quantization type (`TYPES`).
        check_texts: text files whose lines the llama.cpp check scores.
        verify: False skips the llama.cpp check (logged).
        base: the base model of an adapter.
        threads: CPU threads for llama-quantize and the check.
        modelfile: also write `OUT.Modelfile` for Ollama.

    Raises:
        ConfigError: an unknown type, a refused output, an architecture llama.cpp lacks.
        DataError: an unreadable model, or a file that fails the llama.cpp check (then removed).
    """
    from langadapt.models.loading import is_adapter_dir
    from langadapt.output_guard import staging_dir

    opts = ExportOptions(model=str(model), type=type, check_text=[str(p) for p in check_texts or []] or None,
                         verify=verify, base=str(base) if base else None, threads=threads,
                         modelfile=modelfile)
    model, out = Path(model), check_export_out(out, [model, base, *(check_texts or [])], modelfile)
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = staging_dir(out)   # merged adapter and unquantized file; removed whatever happens
    try:
        folder = _merged(model, work / "merged", base) if is_adapter_dir(model) else model
        tmp = _write(folder, opts, work, threads)
        report = _check(tmp, folder, opts) if verify else None
        if not verify:
            log.warning("%s: not checked in llama.cpp (--no-verify)", out.name)
        os.replace(tmp, out)
        _sidecars(out, folder, model, opts, report, time.perf_counter() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("wrote %s (%s, %.1f MB) in %.1f s", out, opts.type, out.stat().st_size / 1e6,
             time.perf_counter() - t0)
    return out


def _merged(adapter: Path, dest: Path, base: str | Path | None) -> Path:
    """The adapter merged into its base as `model merge` does (with its logit check), in float32."""
    from langadapt.models.merge import merge_adapter

    log.info("merging adapter %s into its base first", adapter)
    merge_adapter(adapter, dest, base=base, dtype="float32", device="cpu", force=True)
    return dest


def _write(folder: Path, opts: ExportOptions, work: Path, threads: int | None) -> Path:
    """The GGUF file of `folder` in `opts.type`, under `work`."""
    from langadapt.models.gguf_writer import write_gguf

    t0 = time.perf_counter()
    direct = opts.type if opts.type in DIRECT_TYPES else "f32"
    raw = write_gguf(folder, work / f"model.{direct}.gguf", type=direct)
    log.info("wrote %s weights (%.1f MB) in %.1f s", direct, raw.stat().st_size / 1e6,
             time.perf_counter() - t0)
    if opts.type in DIRECT_TYPES:
        return raw
    from langadapt.gen.llamacpp_quantize import quantize

    t0 = time.perf_counter()
    dst = work / f"model.{opts.type}.gguf"
    log.info("quantizing to %s from the f32 file with llama-quantize", opts.type)
    quantize(raw, dst, opts.type, threads=threads)
    raw.unlink()
    log.info("quantized to %s (%.1f MB) in %.1f s", opts.type, dst.stat().st_size / 1e6,
             time.perf_counter() - t0)
    return dst


def check_lines(opts: ExportOptions) -> list[str]:
    """The lines the llama.cpp check tokenizes: every line of the check files, or the built-in ones.

    All of them are tokenized by both tokenizers; `verify_export` scores the logits of an
    evenly spread sample (`LOGIT_TEXTS`) of them, since a forward pass costs far more.
    """
    from langadapt.textio import iter_texts

    if not opts.check_text:
        log.info("checking on %d built-in English lines (give check_text for your language)",
                 len(DEFAULT_CHECK_TEXTS))
        return list(DEFAULT_CHECK_TEXTS)
    return [t for t in iter_texts(opts.check_text) if t.strip()]


def _check(tmp: Path, folder: Path, opts: ExportOptions) -> dict:
    """Run the llama.cpp check on the unnamed file; a DataError leaves it to be removed."""
    from langadapt.models.gguf_verify import verify_export

    t0 = time.perf_counter()
    report = verify_export(tmp, folder, check_lines(opts), weights_type=opts.type,
                           max_logit_texts=LOGIT_TEXTS)
    log.info("checked in llama.cpp in %.1f s", time.perf_counter() - t0)
    return report


def _sidecars(out: Path, folder: Path, model: Path, opts: ExportOptions, report: dict | None,
              seconds: float) -> None:
    from langadapt.runs import atomic_write_json, code_version

    if report is not None:
        from langadapt.models.gguf_verify import write_report

        write_report(out, {**report, "gguf": str(out)})   # as OUT.gguf.verify.json; checked as a temp file
    else:
        sidecar(out, VERIFY_INFO).unlink(missing_ok=True)   # an older check would describe another file
    if opts.modelfile:
        from langadapt.models.gguf_modelfile import write_modelfile

        write_modelfile(sidecar(out, ".Modelfile"), out, folder)
    atomic_write_json(sidecar(out, EXPORT_INFO), {
        "written_by": "langadapt model export", "langadapt": code_version(),
        "model": str(model), "base": opts.base, "type": opts.type, "verified": report is not None,
        "bytes": out.stat().st_size, "seconds": round(seconds, 2)})
