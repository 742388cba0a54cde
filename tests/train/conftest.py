"""Fixtures for trainer tests: very small models (hidden 16) of real architectures, real tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="session")
def small_model(tmp_path_factory, tokenizers_dir):
    """`small_model(arch)` -> folder of a 2-layer, hidden-16 model with the real tokenizer (cached).

    With a 151k vocabulary the softmax dominates; hidden 16 keeps each step cheap on 2 cores.
    """
    from langadapt.models.tiny import make_tiny

    cache: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("small")
    tokenizer_of = {"qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3", "m2m100": "qwen3"}

    def get(arch: str = "qwen3") -> Path:
        if arch not in cache:
            cache[arch] = make_tiny(arch, tokenizers_dir / tokenizer_of[arch], base / arch, layers=2,
                                    hidden=16, heads=2, kv_heads=1, intermediate=32, seed=0)
        return cache[arch]

    return get


@pytest.fixture
def write_config(tmp_path):
    """Write a training YAML and return its path."""

    def write(cfg: dict, name: str = "train.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        return p

    return write
