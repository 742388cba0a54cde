"""Shared fixtures: real data and tokenizers from ../shared, tiny models built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # Parallel workers (`make test` runs pytest-xdist): split the cores between them, or each
    # worker's torch/OpenMP pool would claim every core and they would fight for them. Set
    # before torch is imported; subprocesses the tests start inherit it.
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

from shared_cache import shared_dir

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
def trimmed_tokenizer(tmp_path_factory, tokenizers_dir, data_dir):
    """`trimmed_tokenizer(name)` -> the real tokenizer `name` trimmed to the ids the test data uses.

    `langadapt tokenizer trim`'s code on news, Bible, FLORES and parallel lines keeps ~5% of the
    ids (a few thousand): every test text still tokenizes (the byte alphabet stays), and a
    model on it loads and runs in a fraction of the time of the 128k-262k originals. Made
    once per test run.
    """
    from langadapt.tokenizer.extend import Corpus
    from langadapt.tokenizer.trim import trim

    def corpus(out: Path) -> None:
        lines = []
        for rel, n in (("mono/news_ner_v1.txt", 2000), ("mono/bible_mbspeech.txt", 500),
                       ("flores/khk_Cyrl.dev.txt", None), ("flores/eng_Latn.dev.txt", None),
                       ("flores/google_mt.eng_Latn.dev.txt", None), ("parallel/mn_en.tsv", None)):
            lines += (data_dir / rel).read_text(encoding="utf-8").splitlines()[:n]
        out.mkdir(parents=True)
        (out / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def get(name: str) -> Path:
        text = shared_dir(tmp_path_factory, "trim-corpus", corpus) / "corpus.txt"

        return shared_dir(tmp_path_factory, f"trimmed-{name}",
                          lambda out: trim(tokenizers_dir / name, Corpus([text]), out))

    return get


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tokenizers_dir, trimmed_tokenizer):
    """`tiny_model(arch)` -> folder of a tiny random model (cached, shared by the workers).

    Its tokenizer is the real one of `arch` trimmed to the test data's ids; a test about the
    vocabulary itself asks for `tiny_model(arch, full_vocab=True)` (the 128k-262k original).
    """
    from langadapt.models.tiny import make_tiny

    def get(arch: str = "qwen3", full_vocab: bool = False) -> Path:
        name = TOKENIZER_OF[arch]
        tok = tokenizers_dir / name if full_vocab else trimmed_tokenizer(name)
        return shared_dir(tmp_path_factory, f"tiny-{arch}{'-full' if full_vocab else ''}",
                          lambda out: make_tiny(arch, tok, out, seed=0))

    return get


@pytest.fixture(scope="session")
def imported(tmp_path_factory):
    """`imported(name)` -> (gguf path, imported HF folder) of a real cached checkpoint
    (`smollm2-135m-instruct`, `gemma3-270m`), imported once per test run; skips naming
    `langadapt model fetch` when the file is not cached."""
    from real_gguf import import_once

    done: dict[str, tuple[Path, Path]] = {}

    def get(name: str) -> tuple[Path, Path]:
        if name not in done:
            done[name] = import_once(tmp_path_factory, name)
        return done[name]

    return get


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the modules with `slow` tests go out first.

    Workers take whole modules (`--dist loadscope`) in collection order; a long module
    handed out last would leave the other workers idle while it runs.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)  # stable: the rest keep their order
