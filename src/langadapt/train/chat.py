"""Instruction tuning data: chat-template rendering with loss on assistant tokens only.

Records are `{"messages": [{"role", "content"}, ...]}` or
`{"instruction", "input", "output"}` (Alpaca style). The conversation is rendered
with the tokenizer's chat template; tokens inside assistant replies (and the
end-of-turn special token right after each reply) get labels, everything else -100.

Templates may rewrite history (Qwen3 strips or adds `<think>` blocks) or trim replies,
so each reply is located in the rendered text, anchored at the rendered prefix of its
turn; transformers' `return_assistant_tokens_mask` needs `{% generation %}` tags that
most published templates lack, hence this code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from langadapt.errors import DataError
from langadapt.textio import expand_files, iter_lines

# Used only when a tokenizer has no chat template (base models): plain ChatML.
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def ensure_chat_template(tok) -> None:
    """Give a template-less tokenizer plain ChatML so SFT and prompting work."""
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML


def describe(value) -> str:
    """`null`, `a list`, `an int`: what a JSON field held, for error messages."""
    if value is None:
        return "null"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _check_message(m, j: int, file: str, line: int) -> dict:
    """One `{role, content}` message, or a DataError naming the record's line and the field."""
    where = f"messages[{j}]"
    if not isinstance(m, dict):
        raise DataError(f"{where} must be an object {{role, content}}, got {type(m).__name__}",
                        file=file, line=line)
    role = m.get("role")
    if not isinstance(role, str) or not role:
        got = "missing" if "role" not in m else f"{role!r}, not a non-empty string"
        raise DataError(f"{where}.role is {got}", file=file, line=line)
    if "content" not in m:
        raise DataError(f"{where}.content is missing", file=file, line=line)
    content = m["content"]
    if not isinstance(content, str):
        # list-of-parts (multimodal) content has no single text to render into the template
        raise DataError(f"{where}.content is {describe(content)}; expected a string", file=file, line=line)
    return m


def _text_field(rec: dict, key: str, file: str, line: int, optional: bool = False) -> str:
    v = rec.get(key)
    if v is None and optional:
        return ""
    if not isinstance(v, str):
        raise DataError(f"'{key}' is {describe(v)}; expected a string", file=file, line=line)
    return v


def to_messages(rec, file: str, line: int) -> list[dict]:
    """A `messages` record or an instruction/input/output record as a message list.

    Every field is checked here, so a bad record fails with its file and line before
    training starts instead of deep inside the chat template.
    """
    if not isinstance(rec, dict):
        raise DataError(f"record must be a JSON object, got {type(rec).__name__}", file=file, line=line)
    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise DataError("'messages' must be a non-empty list of {role, content}", file=file, line=line)
        return [_check_message(m, j, file, line) for j, m in enumerate(msgs)]
    if "instruction" in rec and "output" in rec:
        instruction = _text_field(rec, "instruction", file, line)
        extra = _text_field(rec, "input", file, line, optional=True)
        output = _text_field(rec, "output", file, line)
        user = instruction + (f"\n\n{extra}" if extra else "")
        return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    raise DataError("record needs 'messages' or 'instruction' + 'output'", file=file, line=line)


def iter_located_conversations(paths: list[str], limit: int | None = None
                               ) -> Iterator[tuple[str, int, list[dict]]]:
    """(file, 1-based line, messages) of each record in JSONL files (or folders of them)."""
    n = 0
    for p in expand_files(paths):  # read as every text file is: .gz/.zst, URLs
        for i, raw in iter_lines(p):
            if not raw.strip():
                continue
            if limit is not None and n >= limit:
                return
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as e:
                raise DataError(f"invalid JSON ({e.msg})", file=p, line=i) from None
            n += 1
            yield p, i, to_messages(rec, p, i)


def iter_conversations(paths: list[str], limit: int | None = None) -> Iterator[list[dict]]:
    """Conversations from JSONL files (or folders of them)."""
    for _file, _line, msgs in iter_located_conversations(paths, limit):
        yield msgs


def _end_of_turn(tok) -> re.Pattern:
    """Whitespace then one special token (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, EOS, ...)."""
    added = {str(t) for t in tok.added_tokens_decoder.values() if getattr(t, "special", False)}
    specials = sorted({t for t in tok.all_special_tokens if t} | added, key=len, reverse=True)
    if not specials:
        return re.compile("(?!)")  # matches nothing
    return re.compile(r"[ \t\n]*(" + "|".join(map(re.escape, specials)) + ")")


def _assistant_spans(tok, messages: list[dict], text: str) -> list[tuple[int, int]]:
    """Character spans of each assistant reply plus its end-of-turn token inside `text`.

    Each reply is searched from where its turn begins: the rendered prefix with the
    generation prompt, when the template renders that prefix unchanged (most do), else
    right after the previous reply. The end-of-turn special token right after a reply is
    included: it is what the model must learn to emit to stop.
    """
    spans, cursor = [], 0
    eot = _end_of_turn(tok)
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or not str(m["content"]).strip():
            continue
        prefix = (tok.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
                  if i else "")
        if prefix and len(prefix) >= cursor and text.startswith(prefix):
            cursor = len(prefix)
        content = str(m["content"])
        start = text.find(content, cursor)
        if start < 0:  # templates may trim replies
            content = content.strip()
            start = text.find(content, cursor)
        if start < 0:
            raise DataError(f"assistant turn {i} is not found verbatim in the rendered chat template")
        end = start + len(content)
        if match := eot.match(text, end):
            end = match.end()
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
