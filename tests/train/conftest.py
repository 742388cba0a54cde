"""Fixtures for trainer tests: very small models (hidden 16) of real architectures, real tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="session")
def small_model(tmp_path_factory, tokenizers_dir, trimmed_tokenizer):
    """`small_model(arch)` -> folder of a 2-layer, hidden-16 model (cached, shared by the workers).

    Its tokenizer is the real one trimmed to the test data's ids (a few thousand), so the
    softmax over the vocabulary no longer dominates each step; `small_model(arch,
    full_vocab=True)` has the 128k-262k original, for tests about the vocabulary.
    """
    from shared_cache import shared_dir

    from langadapt.models.tiny import make_tiny

    def get(arch: str = "qwen3", full_vocab: bool = False) -> Path:
        name = {"qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3", "m2m100": "qwen3"}[arch]
        tok = tokenizers_dir / name if full_vocab else trimmed_tokenizer(name)
        return shared_dir(tmp_path_factory, f"small-{arch}{'-full' if full_vocab else ''}",
                          lambda out: make_tiny(arch, tok, out, layers=2, hidden=16, heads=2, kv_heads=1,
                                                intermediate=32, seed=0))

    return get


@pytest.fixture
def write_config(tmp_path):
    """Write a training YAML and return its path."""

    def write(cfg: dict, name: str = "train.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        return p

    return write
