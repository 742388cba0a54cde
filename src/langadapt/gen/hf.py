"""The HF backend: transformers `generate` for seq2seq (NLLB/M2M100) and causal LMs, the reference.

Seq2seq inputs are laid out as NLLB does (`[src_code] tokens </s>`) and the target
language code is forced as the first decoder token. Causal models get a chat-template
prompt (stopping at the end of the assistant turn) or a few-shot prompt (stopping at the
first newline). Inputs are sorted by token length so each batch holds similar lengths
and little padding; causal batches are left-padded with an attention mask, so a
sentence gets the same greedy output in any batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from langadapt.gen.backend import BACKENDS, OnBatch
from langadapt.generation_options import GenerationOptions
from langadapt.languages import language_name
from langadapt.models.loading import Loaded, load_model
from langadapt.models.seq2seq import encode_with_lang, lang_token_id
from langadapt.padding import pad
from langadapt.thinking import THINK

log = logging.getLogger(__name__)

# Tokens that end an assistant turn in the chat templates of the supported families.
END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<eos>")


def prompt_style(tok, style: str) -> str:
    """`auto` is `chat` when the tokenizer has a chat template, else `fewshot`."""
    if style == "auto":
        return "chat" if getattr(tok, "chat_template", None) else "fewshot"
    return style


def build_prompt(tok, text: str, src: str, tgt: str, style: str,
                 few_shot: Sequence[tuple[str, str]] = ()) -> str:
    """The causal-LM prompt asking for a translation of `text` from `src` to `tgt`."""
    s, t = language_name(src), language_name(tgt)
    instruction = f"Translate the following text from {s} to {t}."
    if prompt_style(tok, style) == "chat":
        messages = []
        for a, b in few_shot:
            messages += [{"role": "user", "content": f"{instruction}\n\n{a}"},
                         {"role": "assistant", "content": b}]
        messages.append({"role": "user", "content": f"{instruction} Reply with the translation "
                                                    f"only.\n\n{text}"})
        # enable_thinking is read by Qwen3's template and ignored by the others.
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                       enable_thinking=False)
    shots = "".join(f"{s}: {a}\n{t}: {b}\n\n" for a, b in few_shot)
    return f"{instruction}\n\n{shots}{s}: {text}\n{t}:"


def stop_token_ids(tok) -> list[int]:
    """End-of-sequence plus end-of-turn ids known to the tokenizer."""
    ids = [tok.eos_token_id] if tok.eos_token_id is not None else []
    for t in END_OF_TURN:  # one lookup each: `get_vocab()` copies the whole vocabulary
        tid = tok.convert_tokens_to_ids(t)
        if tid is not None and tid != tok.unk_token_id:
            ids.append(tid)
    return sorted(set(ids))


_NEWLINE_IDS: dict[tuple, list[int]] = {}


def newline_token_ids(tok) -> list[int]:
    """Ids of every token whose text contains a newline (cached per tokenizer).

    Few-shot generation stops at the first newline. Treating these ids as extra
    end-of-sequence ids is far cheaper than HF's `stop_strings`, which rebuilds
    tables over the whole vocabulary on every call.
    """
    key = (tok.name_or_path, len(tok))
    if key not in _NEWLINE_IDS:
        backend = getattr(tok, "backend_tokenizer", None)
        ids = [[i] for i in range(len(tok))]
        pieces = backend.decode_batch(ids, skip_special_tokens=False) if backend is not None \
            else [tok.decode(i) for i in ids]
        _NEWLINE_IDS[key] = [i for i, p in enumerate(pieces) if "\n" in p]
    return _NEWLINE_IDS[key]


def encode_inputs(loaded: Loaded, texts: Sequence[str], src: str, tgt: str,
                  opts: GenerationOptions) -> list[list[int]]:
    """Token ids of the model input for each text (prompt for causal, coded source for seq2seq)."""
    tok = loaded.tokenizer
    if loaded.is_seq2seq:
        return [encode_with_lang(tok, t, src, opts.max_input_tokens) for t in texts]
    chat = prompt_style(tok, opts.prompt) == "chat"
    out = []
    for t in texts:
        prompt = build_prompt(tok, t, src, tgt, opts.prompt, opts.few_shot)
        # A chat template already writes the BOS token; a plain prompt needs the tokenizer's.
        ids = tok(prompt, add_special_tokens=not chat)["input_ids"]
        out.append(ids[-opts.max_input_tokens:])
    return out


def generate_batch(loaded: Loaded, batch: Sequence[list[int]], tgt: str,
                   opts: GenerationOptions) -> list[list[int]]:
    """Generate for one batch of encoded inputs; return the new token ids of each row."""
    tok, model = loaded.tokenizer, loaded.model
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    # Causal models continue from the right edge, so pad on the left.
    ids, mask = pad(batch, pad_id, left=not loaded.is_seq2seq)
    device = next(model.parameters()).device
    kwargs = dict(max_new_tokens=opts.max_new_tokens, num_beams=opts.num_beams,
                  do_sample=opts.do_sample, pad_token_id=pad_id)
    if opts.do_sample:
        kwargs.update(temperature=opts.temperature, top_p=opts.top_p)
    if loaded.is_seq2seq:
        kwargs["forced_bos_token_id"] = lang_token_id(tok, tgt)
    else:
        stops = stop_token_ids(tok)
        if prompt_style(tok, opts.prompt) == "fewshot":
            stops = sorted(set(stops) | set(newline_token_ids(tok)))
        kwargs["eos_token_id"] = stops
    with torch.inference_mode():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
    # Seq2seq output is decoder-only; causal output repeats the (padded) prompt.
    start = 0 if loaded.is_seq2seq else ids.shape[1]
    return [row[start:].tolist() for row in out.cpu()]


def decode(loaded: Loaded, new_ids: list[int], opts: GenerationOptions) -> str:
    """Text of generated ids: special tokens, thinking blocks and (few-shot) later lines removed."""
    tok = loaded.tokenizer
    text = tok.decode(new_ids, skip_special_tokens=True)
    if not loaded.is_seq2seq:
        text = THINK.sub("", text)  # not stripped: a few-shot answer is its first line
        if prompt_style(tok, opts.prompt) == "fewshot":
            text = text.lstrip(" ").split("\n", 1)[0]
    return text.strip()


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (fails fast on memory)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@BACKENDS.register("hf")
class HFBackend:
    """HF `generate` on a model folder, hub id, PEFT adapter folder or an already loaded model."""

    def __init__(self, model, opts: GenerationOptions):
        self.model, self.opts = model, opts

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, progress: bool = False,
                  on_batch: OnBatch | None = None) -> list[str]:
        opts = self.opts
        loaded = load_model(self.model, device=opts.device, dtype=opts.dtype)
        torch.manual_seed(opts.seed)
        encoded = encode_inputs(loaded, texts, src, tgt, opts)
        out: list[str | None] = [None] * len(texts)
        batches = length_sorted_batches([len(x) for x in encoded], opts.batch_size)
        for idx in tqdm(batches, desc="translate", unit="batch", disable=not progress):
            new = generate_batch(loaded, [encoded[i] for i in idx], tgt, opts)
            texts_out = [decode(loaded, n, opts) for n in new]
            for i, t in zip(idx, texts_out):
                out[i] = t
            if on_batch:
                on_batch(idx, texts_out)
        return [t or "" for t in out]
