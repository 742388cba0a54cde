"""Shared fixtures: real data and tokenizers from ../shared, tiny models built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langadapt.paths import data_root, tokenizers_root

TOKENIZER_OF = {"qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3", "m2m100": "qwen3"}


@pytest.fixture(scope="session", autouse=True)
def _token_cache(tmp_path_factory):
    """Token shards that training makes go to a temporary cache, not the user's."""
    os.environ.setdefault("LANGADAPT_TOKENIZED", str(tmp_path_factory.mktemp("tokenized")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root(required=False)
    if root is None:
        pytest.skip("no shared data folder (set LANGADAPT_DATA)")
    return root


@pytest.fixture(scope="session")
def tokenizers_dir() -> Path:
    root = tokenizers_root(required=False)
    if root is None:
        pytest.skip("no shared tokenizers folder (set LANGADAPT_TOKENIZERS)")
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tokenizers_dir):
    """`tiny_model(arch)` -> folder of a tiny random model with the real tokenizer (cached)."""
    from langadapt.models.tiny import make_tiny

    cache: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("tiny")

    def get(arch: str = "qwen3") -> Path:
        if arch not in cache:
            cache[arch] = make_tiny(arch, tokenizers_dir / TOKENIZER_OF[arch], base / arch, seed=0)
        return cache[arch]

    return get
