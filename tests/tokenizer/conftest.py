"""Fixtures for tokenizer tests: a small Mongolian corpus cut from the shared data."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_corpus(data_dir, tmp_path_factory) -> Path:
    """The first 1500 news lines and 300 Bible verses (~0.4 MB): enough for a few hundred merges."""
    news = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:1500]
    bible = (data_dir / "mono" / "bible_mbspeech.txt").read_text(encoding="utf-8").splitlines()[:300]
    path = tmp_path_factory.mktemp("corpus") / "mn.txt"
    path.write_text("\n".join(news + bible) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def flores(data_dir) -> dict[str, Path]:
    return {lang: data_dir / "flores" / f"{lang}.dev.txt" for lang in ("khk_Cyrl", "eng_Latn")}
