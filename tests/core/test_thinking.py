"""Thinking blocks of reasoning models: one pattern, one function, used by every backend."""

from __future__ import annotations

from pathlib import Path

import langadapt
from langadapt.thinking import strip_thinking


def test_strip_thinking():
    assert strip_thinking("<think>\nhmm, Mongolian…\n</think>\n\n Сайн байна уу? ") == "Сайн байна уу?"
    assert strip_thinking("a <think>x</think> b<think>y\n</think>c") == "a bc"
    assert strip_thinking("no thought here\n") == "no thought here"


def test_the_pattern_lives_in_one_module():
    src = Path(langadapt.__file__).parent
    found = [str(p.relative_to(src)) for p in src.rglob("*.py")
             if p.name != "thinking.py" and "</think>" in p.read_text(encoding="utf-8")]
    assert not found, f"use langadapt.thinking instead of a pattern of your own: {found}"
