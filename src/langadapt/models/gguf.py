"""Import a GGUF checkpoint (llama.cpp's format) as an ordinary Hugging Face model folder.

transformers reads GGUF files itself (`from_pretrained(folder, gguf_file=...)`), dequantizing
every tensor, but a model loaded that way counts as quantized and refuses `save_pretrained`.
So the import loads it once, copies the dequantized weights into a model built from the
same config, and saves that with the tokenizer (chat template and special tokens from the
GGUF metadata) and the generation config. The result loads anywhere without langadapt.
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path

import torch

from langadapt.errors import ConfigError, DataError, printable
from langadapt.models.fetch import verify_if_cached
from langadapt.runs import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
# llama.cpp's names for architectures that transformers renames when it reads the file.
_GGUF_SPELLINGS = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss",
                   "minimax-m2": "minimax_m2"}
_SPECIALS = ("bos", "eos", "pad", "unk")


def _transformers_names() -> set[str]:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}


def supported_architectures() -> list[str]:
    """`general.architecture` values transformers can turn into a model, as GGUF files spell them."""
    names = _transformers_names()
    renamed = {k: v for k, v in _GGUF_SPELLINGS.items() if v in names}
    return sorted((names - set(renamed.values())) | set(renamed))


# magic, version, tensor count, metadata count: the fixed part of every GGUF header
_HEADER_BYTES = 24


def open_gguf(path: str | Path):
    """A `gguf.GGUFReader` of `path`, or one DataError saying the file is short, foreign or cut.

    The reader indexes past the end of a cut file (IndexError, numpy errors), so the size is
    checked against the header and the tensors' extents here.
    """
    from gguf import GGUFReader

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_HEADER_BYTES)
    refetch = "fetch or copy it again ('langadapt model fetch' for the known ones)"
    if len(head) >= 4 and head[:4] != b"GGUF":
        raise DataError(f"not a GGUF file (it starts with {printable(repr(head[:4]))}, not b'GGUF')",
                        file=str(path))
    if size < _HEADER_BYTES:
        raise DataError(f"GGUF file cut short: {size} bytes, less than its {_HEADER_BYTES}-byte header; "
                        + refetch, file=str(path))
    try:
        reader = GGUFReader(str(path))
    except (ValueError, OSError, IndexError, KeyError, struct.error, OverflowError, MemoryError) as e:
        raise DataError(f"GGUF file cut short or corrupt ({size} bytes; the reader says: "
                        f"{printable(str(e))[:200]}); " + refetch, file=str(path)) from None
    end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size:
        raise DataError(f"GGUF file cut short: {size} bytes, its tensors end at byte {end}; " + refetch,
                        file=str(path))
    return reader


def _scalar_fields(reader) -> dict:
    from gguf import GGUFValueType

    return {k: f.contents() for k, f in reader.fields.items()
            if f.types and f.types[0] != GGUFValueType.ARRAY}


def read_metadata(path: str | Path) -> dict:
    """The scalar and string metadata of a GGUF file (arrays such as the vocabulary left out)."""
    return _scalar_fields(open_gguf(path))


def check_shapes(path: str | Path, reader, meta: dict, arch: str) -> None:
    """Refuse a file whose tensors contradict its metadata (width, layer count) with one DataError.

    transformers would build the model from the metadata, then fail on the first mismatched
    tensor with a long report; these two numbers decide every tensor's shape.
    """
    width, blocks = meta.get(f"{arch}.embedding_length"), meta.get(f"{arch}.block_count")
    shapes = {t.name: [int(d) for d in t.shape] for t in reader.tensors}
    if width is not None:
        for name in ("token_embd.weight", "output.weight", "output_norm.weight", "blk.0.attn_norm.weight"):
            if name in shapes and shapes[name][0] != int(width):
                raise DataError(f"tensor {name} has shape {shapes[name]} but the metadata says "
                                f"{arch}.embedding_length = {width}: the file is inconsistent "
                                "(re-export or fetch it again)", file=str(path))
    found = {int(m.group(1)) for n in shapes if (m := re.match(r"blk\.(\d+)\.", n))}
    if blocks is not None and found and found != set(range(int(blocks))):
        raise DataError(f"the file has tensors of {len(found)} layers (blk.{min(found)}..blk.{max(found)}) "
                        f"but the metadata says {arch}.block_count = {blocks}: the file is inconsistent "
                        "(re-export or fetch it again)", file=str(path))


def check_architecture(path: str | Path, meta: dict) -> str:
    """Return `general.architecture`, or raise one DataError if transformers cannot read it."""
    arch = meta.get("general.architecture")
    if _GGUF_SPELLINGS.get(arch, arch) not in _transformers_names():
        shown = printable(str(arch))[:100]   # metadata is untrusted: no control characters, bounded
        raise DataError(f"general.architecture '{shown}' cannot be imported (transformers reads GGUF "
                        f"files of: {', '.join(supported_architectures())})", file=str(path))
    return arch


def import_gguf(path: str | Path, out: str | Path, *, dtype: str = "float32") -> Path:
    """Write the GGUF checkpoint `path` to `out` as an HF folder (safetensors, config, tokenizer).

    Args:
        path: a `.gguf` file.
        out: the folder to write; replaced whole and atomically.
        dtype: weight dtype of the saved folder, `float32` (the dequantized values exactly)
            or `bfloat16`.

    Raises:
        DataError: the file is missing, unreadable, or of an architecture transformers cannot read.
        ConfigError: an unknown dtype.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"dtype '{dtype}' is not one of {', '.join(DTYPES)}", key="dtype")
    path = Path(path)
    if not path.is_file():
        raise DataError("GGUF file not found (run 'langadapt model fetch' for the known ones)",
                        file=str(path))
    verify_if_cached(path)  # a fetched checkpoint must still have its pinned SHA-256
    reader = open_gguf(path)
    meta = _scalar_fields(reader)
    arch = check_architecture(path, meta)
    check_shapes(path, reader, meta, arch)
    del reader   # its memory map; transformers reads the file itself
    log.info("importing %s (%s, %s) as %s", path.name, arch, printable(str(meta.get("general.name", "?"))),
             dtype)
    model, tok = _load(path, meta)
    with atomic_dir(out, [path], command="model import", also_ours=("gguf_import.json",)) as tmp:
        model.to(DTYPES[dtype]).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        atomic_write_json(tmp / "gguf_import.json", {
            "source": path.name, "architecture": arch, "name": meta.get("general.name"),
            "file_type": meta.get("general.file_type"), "dtype": dtype,
            # llama.cpp's pre-tokenizer name, which a GGUF export of this model keeps
            "tokenizer_pre": meta.get("tokenizer.ggml.pre")})
    log.info("wrote %s", out)
    return Path(out)


def _load(path: Path, meta: dict):
    """Config, tokenizer and a saveable (not quantized) model of the GGUF file."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    folder, name = str(path.parent), path.name
    try:
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        auto = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
        loaded = auto.from_pretrained(folder, gguf_file=name, config=config, dtype=torch.float32)
    except (ValueError, KeyError, NotImplementedError, RuntimeError) as e:
        # RuntimeError: a tensor of another shape than the config built from the metadata
        first = printable(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        raise DataError(f"transformers cannot read this GGUF file: {first[:300]}", file=str(path)) from None
    _fix_special_tokens(tok, meta, path)
    _fix_pre_tokenizer(tok, meta.get("tokenizer.ggml.pre"))
    template = meta.get("tokenizer.chat_template")
    if template and not getattr(tok, "chat_template", None):
        tok.chat_template = template
    if getattr(config, "max_position_embeddings", None):
        tok.model_max_length = config.max_position_embeddings
    # A GGUF-loaded model counts as quantized and refuses save_pretrained; a fresh one of the
    # same config takes the dequantized weights. Tied weights stay tied through the config.
    model = auto.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if not _is_tied_copy(model, k)]:
        raise DataError(f"GGUF weights do not fit the model (missing {missing[:3]}, unexpected "
                        f"{unexpected[:3]})", file=str(path))
    model.tie_weights()
    model.generation_config = loaded.generation_config
    return model.eval(), tok


def _is_tied_copy(model, key: str) -> bool:
    """A head weight missing from the state dict is fine when the config ties it to the embeddings."""
    return bool(getattr(model.config, "tie_word_embeddings", False)) and key.startswith("lm_head.")


def _fix_pre_tokenizer(tok, pre: str | None) -> None:
    """Give a `smollm` vocabulary its digit split back.

    transformers builds the pre-tokenizer of every GGUF `gpt2` vocabulary as GPT-2's, but
    llama.cpp's `smollm` (SmolLM/SmolLM2's own tokenizer.json) splits every digit first: " 123"
    and "  4" tokenize differently without it.
    """
    backend = getattr(tok, "backend_tokenizer", None)
    if pre != "smollm" or backend is None or type(backend.pre_tokenizer).__name__ != "ByteLevel":
        return
    from tokenizers import pre_tokenizers

    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])


def _fix_special_tokens(tok, meta: dict, path: Path) -> None:
    """Make bos/eos/pad/unk the tokens the GGUF metadata names (by id)."""
    for kind in _SPECIALS:
        want = meta.get(f"tokenizer.ggml.{kind}_token_id")
        if want is None or getattr(tok, f"{kind}_token_id") == int(want):
            continue
        token = tok.convert_ids_to_tokens(int(want))
        if token is None:
            raise DataError(f"tokenizer.ggml.{kind}_token_id {want} is outside the vocabulary",
                            file=str(path))
        log.info("%s: %s token set to %r (id %d) as the GGUF metadata says", path.name, kind, token, want)
        setattr(tok, f"{kind}_token", token)
