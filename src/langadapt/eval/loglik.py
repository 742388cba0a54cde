"""Log-likelihood of continuations given contexts: the one scoring loop behind bpb and choice.

A `Request` is token ids: a `context` the model conditions on and a `target` whose
log-probability is summed (the lm-evaluation-harness `loglikelihood` request, in
tokens). Causal models read `context + target[:-1]`; encoder-decoder models read
`source` in the encoder and `context + target[:-1]` in the decoder (`context` then
starts with the decoder start token). Requests are sorted by length (longest first,
so an out-of-memory shows at once) and right-padded into batches; padding never
changes a score because every position is masked and scored on its own row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from langadapt.padding import pad

log = logging.getLogger(__name__)

# Scored positions projected onto the vocabulary at a time. A whole batch of long windows
# at once (8 x 4096 positions x a 150k vocabulary, float32) is ~20 GB; chunks keep the
# logits at LOGITS_CHUNK x vocabulary floats whatever the document and window lengths.
LOGITS_CHUNK = 256


@dataclass(frozen=True)
class Request:
    """Score `target` after `context` (and, for seq2seq, with `source` in the encoder)."""

    context: tuple[int, ...]
    target: tuple[int, ...]
    source: tuple[int, ...] | None = None

    @property
    def length(self) -> int:
        return len(self.context) + len(self.target) - 1


@dataclass(frozen=True)
class Score:
    """Sum of natural-log probabilities of the target tokens; `greedy`: all were the argmax."""

    logprob: float
    n_tokens: int
    greedy: bool


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def max_positions(loaded, cap: int | None = 4096) -> int:
    """The longest input the model takes (config, else tokenizer), capped at `cap` for memory."""
    cfg = loaded.model.config
    cfg = getattr(cfg, "get_text_config", lambda: cfg)()
    n = None
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(getattr(cfg, attr, None), int):
            n = getattr(cfg, attr)
            break
    if n is None:
        n = getattr(loaded.tokenizer, "model_max_length", None)
        n = n if isinstance(n, int) and n < 1_000_000 else 2048
    return min(n, cap) if cap else n


def prefix_token_id(tok) -> int:
    """What the first token of a document is conditioned on: BOS, else EOS (lm-eval's rule)."""
    if tok.bos_token_id is not None:
        return tok.bos_token_id
    if tok.eos_token_id is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token to condition on")
    return tok.eos_token_id


def tokenizer_adds_bos(tok) -> bool:
    """Whether the tokenizer itself puts BOS before a text (its `add_special_tokens=True`)."""
    if tok.bos_token_id is None:
        return False
    ids = tok("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == tok.bos_token_id


def condition(tok, text: str, ctx: list[int], tgt: list[int]) -> tuple[list[int], list[int]]:
    """Context and target ids as lm-evaluation-harness's `loglikelihood` conditions them.

    A non-empty context starts with BOS only where the tokenizer adds BOS itself and the
    text does not already start with it (SmolLM2 has a BOS but does not add it; Gemma
    does). An empty context is the prefix token (BOS, else EOS), unless the target
    already starts with it. bpb's documents are such empty-context requests: their first
    window reads `prefix_token_id` first, as lm-eval's rolling log-likelihood does.
    """
    if not text:
        prefix = prefix_token_id(tok)
        return ([prefix], tgt) if not tgt or tgt[0] != prefix else (tgt[:1], tgt[1:])
    if tokenizer_adds_bos(tok) and not text.startswith(tok.bos_token or "\0"):
        return [tok.bos_token_id, *ctx], tgt
    return ctx, tgt


def _forward(model, batch: Sequence[Request], pad_id: int, seq2seq: bool) -> tuple[torch.Tensor, list]:
    """The output of `model` (logits, or the backbone's last hidden states) and the input ids."""
    device = model_device(model)
    inputs = [list(r.context) + list(r.target[:-1]) for r in batch]
    ids, mask = pad(inputs, pad_id, device=device)
    if seq2seq:
        src, src_mask = pad([r.source or () for r in batch], pad_id, device=device)
        out = model(input_ids=src, attention_mask=src_mask, decoder_input_ids=ids,
                    decoder_attention_mask=mask, use_cache=False)
    else:
        out = model(input_ids=ids, attention_mask=mask, use_cache=False)
    return (out.logits if hasattr(out, "logits") else out[0]), inputs


def split_head(loaded, probe: Request, pad_id: int) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """`(backbone, head)` whose `head(backbone(x)[0])` are the model's logits, else None.

    Scoring then projects the hidden states in chunks. The split is checked on a few tokens
    of `probe` against the model's own logits, so a model that transforms them further
    (Gemma 2's soft-capping, a logit scale) is scored whole instead of wrongly.
    """
    model = loaded.model
    hf = model.get_base_model() if hasattr(model, "get_base_model") else model   # PEFT: LoRA stays in
    head = hf.get_output_embeddings() if hasattr(hf, "get_output_embeddings") else None
    backbone = getattr(hf, getattr(hf, "base_model_prefix", ""), None)
    if not isinstance(head, torch.nn.Module) or not isinstance(backbone, torch.nn.Module):
        return None
    short = Request(probe.context[:8], probe.target[:8], probe.source)
    seq2seq = bool(loaded.is_seq2seq)
    try:
        full, _ = _forward(model, [short], pad_id, seq2seq)
        hidden, _ = _forward(backbone, [short], pad_id, seq2seq)
        ours = head(hidden)
    except (TypeError, ValueError, RuntimeError):
        return None
    if ours.shape != full.shape or not torch.allclose(ours.float(), full.float(), rtol=1e-4, atol=1e-4):
        log.debug("%s: logits are not head(hidden states); scoring with whole logits", type(hf).__name__)
        return None
    return backbone, head


def _check(requests: Sequence[Request], seq2seq: bool) -> None:
    for r in requests:
        if not r.context or not r.target:
            raise ValueError("a request needs at least one context and one target token")
        if seq2seq and not r.source:
            raise ValueError("an encoder-decoder request needs source ids")


@torch.inference_mode()
def score_requests(loaded, requests: Sequence[Request], *, batch_size: int = 8,
                   desc: str = "scoring") -> list[Score]:
    """Score every request with `loaded.model`; results come back in the input order."""
    seq2seq = bool(loaded.is_seq2seq)
    _check(requests, seq2seq)
    tok = loaded.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else prefix_token_id(tok)
    order = sorted(range(len(requests)), key=lambda i: -requests[i].length)
    results: list[Score | None] = [None] * len(requests)
    batches = [order[i: i + batch_size] for i in range(0, len(order), max(1, batch_size))]
    split = split_head(loaded, requests[order[-1]], pad_id) if requests else None
    backbone, head = split if split else (loaded.model, None)
    for idx in tqdm(batches, desc=desc, unit="batch", disable=None, leave=False):
        batch = [requests[i] for i in idx]
        out, inputs = _forward(backbone, batch, pad_id, seq2seq)
        for row, (i, r, inp) in enumerate(zip(idx, batch, inputs)):
            n = len(r.target)
            tgt = torch.tensor(r.target, device=out.device)
            total, greedy = 0.0, True
            for start in range(len(inp) - n, len(inp), LOGITS_CHUNK):
                end = min(start + LOGITS_CHUNK, len(inp))
                chunk = out[row, start:end]
                logits = head(chunk) if head is not None else chunk
                # Log-softmax in float32 on the scored positions only: exact, and small in memory.
                lp = torch.log_softmax(logits.float(), dim=-1)
                t = tgt[start - (len(inp) - n): end - (len(inp) - n)]
                total += float(lp.gather(-1, t[:, None])[:, 0].double().sum())
                greedy = greedy and bool((lp.argmax(-1) == t).all())
            results[i] = Score(total, n, greedy)
    return results  # type: ignore[return-value]
