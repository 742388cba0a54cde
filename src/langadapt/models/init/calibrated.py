"""`calibrated`: FVT input rows, and head rows that predict a new token as often as its pieces.

With a tied head, FVT's new output row is the mean of the pieces' rows, so a new token
is scored like "some piece of it" and the new tokens together take far more of the
next-token mass than the base model gives their piece sequences. The ideal logit of a
new token t = p1 p2 … pk at a position with final hidden state h is the base model's

    log P(p1 | h) + log P(p2 … pk | h, p1)  =  h·w_p1 + c_t(h)   (+ the shared log Z)

This method writes `w_t = w_p1 + c_t · b`: the first piece's output row, shifted so the
logit drops by `c_t`, the mean log-probability of the remaining pieces after the first
(measured with the base model where t occurs in `corpus`, else after BOS). `b` solves
`H b ≈ 1` (ridge) over the base model's final hidden states H on that text, so `h·b ≈ 1`
wherever the model runs and the shift acts as a per-token bias the head does not have.

Input rows stay FVT. A tied model is untied (the head becomes a copy of the embeddings,
old logits unchanged) so the two sides can differ; `untie=false` keeps it tied, and then
only the input rows are written (the same as `fvt`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from langadapt.config import StrictModel
from langadapt.errors import ConfigError
from langadapt.models.init import InitMethod, register_init
from langadapt.models.init.basic import decomposition_mean
from langadapt.padding import pad as pad_batch
from langadapt.textio import iter_texts

log = logging.getLogger(__name__)


def _bos(tok) -> int:
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if bos is None:
        raise ConfigError("the base tokenizer has neither a BOS nor an EOS token", key="tokenizer")
    return bos


def _forward(model, batch: list[list[int]], n_base: int, pad: int):
    """Log-probabilities over the base ids and the head's input, for right-padded `batch`."""
    ids, mask = pad_batch(batch, pad)
    seen = {}
    hook = model.get_output_embeddings().register_forward_hook(
        lambda _m, inp, _out: seen.__setitem__("h", inp[0]))
    try:
        with torch.no_grad():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
    finally:
        hook.remove()
    return logits[..., :n_base].float().log_softmax(-1).cpu(), seen["h"].float().cpu(), mask


@register_init
class Calibrated(InitMethod):
    """FVT inputs; head rows = first piece's row shifted by the log-probability of the rest."""

    name = "calibrated"

    class Options(StrictModel):
        corpus: list[str] | None = None  # target-language text (default: the new tokens' texts)
        max_docs: int = 500
        max_length: int = 256            # base tokens per document scored
        batch_size: int = 8
        ridge: float = 1e-3              # ridge for H b = 1, as a fraction of mean diag(HᵀH)
        untie: bool = True               # untie a tied head so input and output rows can differ

    def prepare(self) -> dict:
        ctx, o = self.ctx, self.opts
        if ctx.model is None or ctx.extended_tokenizer is None:
            raise ConfigError("calibrated needs the base model and the extended tokenizer", key="init")
        texts = (list(iter_texts([Path(p) for p in o.corpus], limit=o.max_docs)) if o.corpus
                 else [t.text for t in ctx.new_tokens])
        rest_sum, rest_n, gram, ones, n_pos = self._in_context(texts)
        missing = [k for k in range(len(ctx.new_tokens)) if rest_n[k] == 0]
        rest_sum[missing] = self._after_bos(missing)
        rest_n[missing] = 1
        self.shift = rest_sum / rest_n
        reg = o.ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
        b = torch.linalg.solve(gram + reg, ones)
        mean = float(ones @ b) / n_pos  # h·b over the scored positions, from the sums
        var = float(b @ gram @ b) / n_pos - mean ** 2
        self.b = b.float()
        facts = {"positions": n_pos, "new_in_context": len(ctx.new_tokens) - len(missing),
                 "new_after_bos": len(missing), "mean_shift_nats": float(self.shift.mean()),
                 "hb_mean": mean, "hb_std": max(var, 0.0) ** 0.5}
        log.info("calibrated: %s", facts)
        return facts

    @property
    def wants_own_head(self) -> bool:
        return self.opts.untie

    def _in_context(self, texts: list[str]):
        """Per new token: summed log P(rest | context, first piece) and its count; HᵀH, Hᵀ1, |H|."""
        ctx, o = self.ctx, self.opts
        new_at = {t.id: k for k, t in enumerate(ctx.new_tokens)}
        bos = _bos(ctx.base_tokenizer)
        docs, spans = [], []
        for ids in ctx.extended_tokenizer(texts, add_special_tokens=False)["input_ids"]:
            seq, sp = [bos], []
            for i in ids:  # the extended tokenization coarsens the base one: expand new ids
                if i in new_at:
                    sp.append((new_at[i], len(seq), len(ctx.new_tokens[new_at[i]].base_ids)))
                    seq += ctx.new_tokens[new_at[i]].base_ids
                else:
                    seq.append(i)
            docs.append(seq[: o.max_length + 1])
            spans.append([s for s in sp if s[1] + s[2] <= o.max_length + 1])
        rest_sum = torch.zeros(len(ctx.new_tokens), dtype=torch.float64)
        rest_n = torch.zeros(len(ctx.new_tokens), dtype=torch.float64)
        gram, ones, n_pos = None, None, 0
        for start in range(0, len(docs), o.batch_size):
            batch = docs[start: start + o.batch_size]
            lp, h, mask = _forward(ctx.model, batch, ctx.n_base, bos)
            h = h[mask.bool()].double()
            gram = h.T @ h if gram is None else gram + h.T @ h
            ones = h.sum(0) if ones is None else ones + h.sum(0)
            n_pos += h.shape[0]
            for row, sp in enumerate(spans[start: start + o.batch_size]):
                for k, pos, n in sp:  # pieces at pos..pos+n-1; score pieces 2..n
                    tgt = torch.tensor(batch[row][pos + 1: pos + n])
                    rest_sum[k] += lp[row, torch.arange(pos, pos + n - 1), tgt].sum().item()
                    rest_n[k] += 1
        return rest_sum, rest_n, gram, ones, n_pos

    def _after_bos(self, which: list[int]) -> torch.Tensor:
        """log P(p2 … pk | BOS, p1) for the new tokens at positions `which`."""
        ctx, o = self.ctx, self.opts
        bos = _bos(ctx.base_tokenizer)
        out = torch.zeros(len(which), dtype=torch.float64)
        for start in range(0, len(which), o.batch_size * 8):
            part = which[start: start + o.batch_size * 8]
            batch = [[bos, *ctx.new_tokens[k].base_ids] for k in part]
            lp, _, _ = _forward(ctx.model, batch, ctx.n_base, bos)
            for row, seq in enumerate(batch):
                pos = torch.arange(1, len(seq) - 1)
                out[start + row] = lp[row, pos, torch.tensor(seq[2:])].sum().item()
        return out

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:
        fallback = weight[: self.ctx.n_base].float().mean(0)
        if role == "input":
            out = [decomposition_mean(weight, t.base_ids, fallback) for t in self.ctx.new_tokens]
            return torch.stack(out).to(weight.dtype)
        b = self.b.to(weight.device)
        out = [(weight[t.base_ids[0]].float() + float(c) * b) if t.base_ids else fallback
               for t, c in zip(self.ctx.new_tokens, self.shift)]
        return torch.stack(out).to(weight.dtype)
