"""Write an HF model folder as an unquantized GGUF file (f32, f16 or bf16) with `gguf.GGUFWriter`.

One file holds what llama.cpp needs to run the model alone: `general.*` (name, licence and
sampling defaults from `generation_config.json`, through `gguf.Metadata`), the family's
hyperparameters and tensors (`langadapt.models.gguf_tensors`) and the vocabulary with its
special tokens and chat template (`langadapt.models.gguf_vocab`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from langadapt.errors import DataError

log = logging.getLogger(__name__)


def _file_type(kind: str):
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16}[kind]


def _encode(arr: np.ndarray, kind: str):
    """(data, raw dtype) of one tensor: vectors (norms, biases) stay f32, as llama.cpp keeps them."""
    import gguf

    if kind == "f32" or arr.ndim < 2:
        return arr.astype(np.float32), None
    qtype = gguf.GGMLQuantizationType.F16 if kind == "f16" else gguf.GGMLQuantizationType.BF16
    return gguf.quants.quantize(arr.astype(np.float32), qtype), qtype


def _model_name(folder: Path) -> str | None:
    """The name `model import` recorded (`general.name` of the source GGUF), if any."""
    info = folder / "gguf_import.json"
    if info.is_file():
        return json.loads(info.read_text(encoding="utf-8")).get("name")
    return None


def _load(folder: Path):
    from transformers import AutoModelForCausalLM

    from langadapt.models.loading import load_tokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype="float32")
    except (OSError, ValueError) as e:
        raise DataError(f"cannot load a causal LM from here ({type(e).__name__}: {str(e)[:200]})",
                        file=str(folder)) from None
    return model.eval(), load_tokenizer(folder)


def write_gguf(folder: str | Path, path: str | Path, *, type: str = "f32") -> Path:
    """Write the HF folder `folder` to `path` with f32, f16 or bf16 weights (no check; see gguf_export)."""
    import gguf

    from langadapt.models.gguf_tensors import add_hparams, gguf_family, gguf_tensors
    from langadapt.models.gguf_vocab import add_vocab

    folder, path = Path(folder), Path(path)
    model, tok = _load(folder)
    config = model.config
    fam = gguf_family(config)
    rows = int(model.get_input_embeddings().weight.shape[0])
    writer = gguf.GGUFWriter(str(path), arch=fam.arch)
    n_params = sum(p.numel() for p in model.parameters())
    meta = gguf.Metadata.load(None, folder, _model_name(folder) or folder.name, n_params)
    meta.set_gguf_meta_model(writer)
    vocab = add_vocab(writer, tok, arch=fam.arch, n_vocab=rows)
    add_hparams(writer, config, fam, n_vocab=int(vocab.get("tokens", rows)))
    writer.add_file_type(_file_type(type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, arr in gguf_tensors(model, fam, n_vocab=int(vocab.get("tokens", rows))):
        data, raw = _encode(arr, type)
        writer.add_tensor(name, data, raw_dtype=raw)
    del model
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.info("%s: %s, %d tensors, %s weights", path.name, fam.arch, len(writer.tensors[0]), type)
    return path
