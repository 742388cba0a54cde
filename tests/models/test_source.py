"""`model.load`: a GGUF file, a local folder or a hub id, chosen by the value, written as an HF folder."""

from __future__ import annotations

import json

import pytest
import torch
from test_gguf import write_tiny_gguf

from langadapt.errors import ConfigError, DataError
from langadapt.models.source import source_kind, write_model


def test_each_kind_of_source_becomes_an_hf_folder(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    assert source_kind(str(gguf)) == "gguf"
    imported = write_model(str(gguf), tmp_path / "imported")
    assert json.loads((imported / "gguf_import.json").read_text())["dtype"] == "float32"
    assert source_kind(str(imported)) == "folder"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert source_kind("~/imported") == "folder"
    copied = write_model("~/imported", tmp_path / "copied", dtype="bfloat16")
    record = json.loads((copied / "model_source.json").read_text())
    assert record["kind"] == "folder" and record["source"] == str(imported) and record["commit"] is None
    a, b = (AutoModelForCausalLM.from_pretrained(p) for p in (imported, copied))
    assert b.dtype == torch.bfloat16
    assert torch.equal(a.get_input_embeddings().weight.to(torch.bfloat16), b.get_input_embeddings().weight)
    assert (copied / "tokenizer.json").is_file()


def test_mistakes_are_one_line(tmp_path):
    assert source_kind("Qwen/Qwen2.5-7B") == "hub"
    with pytest.raises(DataError, match="GGUF file not found"):
        write_model(str(tmp_path / "missing.gguf"), tmp_path / "out")
    with pytest.raises(DataError, match="not a model"):
        source_kind(str(tmp_path / "missing-folder"))
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ConfigError, match="revision 'v1' is for a hub id"):
        write_model(str(folder), tmp_path / "out", revision="v1")
    with pytest.raises(DataError, match="give a model folder with config.json"):
        write_model(str(folder), tmp_path / "out")
    with pytest.raises(DataError, match="give a hub id") as e:  # tests run offline
        write_model("no-such-org/no-such-model", tmp_path / "out")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()
