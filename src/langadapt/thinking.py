"""Reasoning models think aloud before answering (`<think>…</think>`); the thought is not the answer.

One place for the block's pattern and its removal, used by every generation backend.
"""

from __future__ import annotations

import re

THINK = re.compile(r"<think>.*?</think>\s*", re.S)


def strip_thinking(text: str) -> str:
    """The answer in `text`: its thinking blocks removed, then the surrounding whitespace."""
    return THINK.sub("", text).strip()
