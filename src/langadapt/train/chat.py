"""Instruction tuning data: chat-template rendering with loss on assistant tokens only.

Records are `{"messages": [{"role", "content"}, ...]}` or
`{"instruction", "input", "output"}` (Alpaca style). The conversation is rendered
with the tokenizer's chat template; tokens inside assistant replies (and the
end-of-turn text right after each reply) get labels, everything else -100.

Templates may rewrite history (Qwen3 strips or adds `<think>` blocks), so the
assistant spans are found by locating each reply in the rendered text rather than
by diffing prefixes; transformers' `return_assistant_tokens_mask` needs
`{% generation %}` tags that most published templates lack, hence this code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from langadapt.errors import DataError
from langadapt.textio import expand_paths

# Used only when a tokenizer has no chat template (base models): plain ChatML.
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def ensure_chat_template(tok) -> None:
    """Give a template-less tokenizer plain ChatML so SFT and prompting work."""
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML


def to_messages(rec: dict, file: str, line: int) -> list[dict]:
    """A `messages` record or an instruction/input/output record as a message list."""
    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and "role" in m and "content" in m
                                                 for m in msgs):
            raise DataError("'messages' must be a list of {role, content}", file=file, line=line)
        return msgs
    if "instruction" in rec and "output" in rec:
        user = rec["instruction"] + (f"\n\n{rec['input']}" if rec.get("input") else "")
        return [{"role": "user", "content": user}, {"role": "assistant", "content": rec["output"]}]
    raise DataError("record needs 'messages' or 'instruction' + 'output'", file=file, line=line)


def iter_conversations(paths: list[str], limit: int | None = None) -> Iterator[list[dict]]:
    """Conversations from JSONL files (or folders of them)."""
    n = 0
    for p in expand_paths(paths):
        with open(p, encoding="utf-8") as f:
            for i, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                if limit is not None and n >= limit:
                    return
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise DataError(f"invalid JSON ({e.msg})", file=str(p), line=i) from None
                n += 1
                yield to_messages(rec, str(Path(p)), i)


def _assistant_spans(tok, messages: list[dict], text: str) -> list[tuple[int, int]]:
    """Character spans of each assistant reply plus its end-of-turn text inside `text`."""
    spans, cursor = [], 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or not m["content"]:
            continue
        content = m["content"]
        start = text.find(content, cursor)
        if start < 0:
            raise DataError(f"assistant turn {i} is not found verbatim in the rendered chat template")
        end = start + len(content)
        # the end-of-turn marker (e.g. `<|im_end|>`) is what the model must learn to emit to stop
        upto = tok.apply_chat_template(messages[: i + 1], tokenize=False)
        suffix = upto[upto.rfind(content) + len(content):]
        if suffix and text.startswith(suffix, end):
            end += len(suffix)
        spans.append((start, end))
        cursor = end
    return spans


def encode_chat(tok, messages: list[dict], max_len: int) -> dict[str, list[int]] | None:
    """input_ids / labels for one conversation (labels -100 outside assistant replies)."""
    text = tok.apply_chat_template(messages, tokenize=False)
    spans = _assistant_spans(tok, messages, text)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, labels = enc["input_ids"][:max_len], []
    for tid, (s, _e) in zip(ids, enc["offset_mapping"]):
        inside = any(a <= s < b for a, b in spans)
        labels.append(tid if inside else -100)
    if all(x == -100 for x in labels):
        return None  # truncation removed every reply: nothing to learn from
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}
