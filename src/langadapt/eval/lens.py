"""Logit lens: every decoder layer's hidden state read through the final norm and output head.

For each layer output (and the embeddings, reported as layer -1) we project the
hidden state at every scored position through the model's final norm and LM head
and compare that distribution with the model's real output distribution:

* `lens_kl_to_final`   — KL(final ‖ layer), nats, mean over positions;
* `lens_cos_to_final`  — cosine similarity of the two probability vectors;
* `lens_top1_to_final` — share of positions whose top-1 token already agrees.

Given a base model (a separate model with the same vocabulary and depth, or the
same PEFT model with its adapter switched off), the same layer's distributions of
base and adapted model are compared (`lens_base_kl`, `lens_base_cos`,
`lens_base_top1`), which is the research paper's Figure 1.

Given the new tokens of an extended vocabulary (`new_tokens`: ids ≥ the base vocabulary
size, or the ids of the extension's `new_tokens.jsonl`), `lens_new_token_mass` is the
next-token probability each layer puts on them (mean over positions), and
`lens_base_new_token_mass` the same for the base (e.g. the resized model before
training): the layer where the new vocabulary becomes usable.

Seq2seq models (NLLB / M2M100) are read on the decoder side, teacher-forced on
reference targets. Layer outputs are captured with forward hooks on the family's
layer stack, so any architecture registered in `langadapt.models.families` works.
Logits are computed in chunks of positions, so a 150k vocabulary and a 7B model
never hold more than one chunk × vocab of logits per model at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from langadapt.errors import ConfigError
from langadapt.eval.lens_new_tokens import mass_rows, new_token_mask
from langadapt.models import families
from langadapt.models.seq2seq import encode_with_lang
from langadapt.padding import pad
from langadapt.runs import ResultRow, signature

EMBED = -1  # layer index used for the embedding output (input of layer 0)
CHUNK = 512  # positions per logits chunk


# ---------------------------------------------------------------- inputs
def encode_batches(loaded, texts: list[str], *, targets: list[str] | None = None,
                   src_lang: str | None = None, tgt_lang: str | None = None,
                   max_length: int = 256, batch_size: int = 4) -> Iterator[dict]:
    """Padded model inputs per batch, with `score_mask` (positions to read) and `labels`.

    Causal: the texts as the tokenizer encodes them; `labels[t]` is token t+1 (-100 at
    the end and on padding). Seq2seq: source `[src_lang] text </s>`, decoder teacher-forced
    on `[tgt_lang] target </s>`; `labels` are the target tokens.
    """
    tok = loaded.tokenizer
    if loaded.is_seq2seq:
        if targets is None or not src_lang or not tgt_lang:
            raise ConfigError("a seq2seq model is read on its decoder side: give target texts "
                              "(line-aligned) and the source and target language codes", key="targets")
        if len(targets) != len(texts):
            raise ConfigError(f"{len(texts)} source lines but {len(targets)} target lines", key="targets")
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        if loaded.is_seq2seq:
            src = [encode_with_lang(tok, t, src_lang, max_length) for t in chunk]
            tgt = [encode_with_lang(tok, t, tgt_lang, max_length)
                   for t in targets[start:start + batch_size]]
            yield _seq2seq_batch(loaded.model, tok, src, tgt)
        else:
            ids = [tok(t, truncation=True, max_length=max_length)["input_ids"] for t in chunk]
            yield _causal_batch(tok, ids)


def read_texts(text: str, targets: str | None = None, limit: int | None = None
               ) -> tuple[list[str], list[str] | None]:
    """Lines to read (and their line-aligned targets); empty lines or pairs are skipped."""
    from langadapt.textio import iter_texts, read_lines

    if targets is None:
        return list(iter_texts([text], limit=limit)), None
    src, tgt = read_lines(text), read_lines(targets)
    if len(src) != len(tgt):
        raise ConfigError(f"{text} has {len(src)} lines but {targets} has {len(tgt)}; they must be "
                          "line-aligned", key="targets")
    pairs = [(s, t) for s, t in zip(src, tgt) if s.strip() and t.strip()][:limit]
    return [s for s, _ in pairs], [t for _, t in pairs]


def _causal_batch(tok, ids: list[list[int]]) -> dict:
    input_ids, mask = pad(ids, tok.pad_token_id)
    labels = input_ids.roll(-1, dims=1)
    labels[:, -1] = -100
    labels[mask.roll(-1, dims=1) == 0] = -100  # the last real token predicts nothing
    return {"inputs": {"input_ids": input_ids, "attention_mask": mask},
            "score_mask": mask.bool(), "labels": labels}


def _seq2seq_batch(model, tok, src: list[list[int]], tgt: list[list[int]]) -> dict:
    start = families.unwrap(model).config.decoder_start_token_id
    input_ids, mask = pad(src, tok.pad_token_id)
    dec_ids, dec_mask = pad([[start, *t[:-1]] for t in tgt], tok.pad_token_id)
    labels, _ = pad(tgt, -100)
    return {"inputs": {"input_ids": input_ids, "attention_mask": mask, "decoder_input_ids": dec_ids,
                       "decoder_attention_mask": dec_mask},
            "score_mask": dec_mask.bool(), "labels": labels}


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch["inputs"].items()}


# ---------------------------------------------------------------- capture
@contextlib.contextmanager
def capture_layers(model, stack: str = "decoder") -> Iterator[list]:
    """Collect the embedding output and every layer's output of one stack during a forward."""
    store: list = []
    stack_layers = families.layers(model, stack)

    def pre(_mod, args, kwargs):
        store.append(args[0] if args else kwargs["hidden_states"])

    def post(_mod, _args, output):
        store.append(output[0] if isinstance(output, tuple) else output)

    handles = [stack_layers[0].register_forward_pre_hook(pre, with_kwargs=True)]
    handles += [layer.register_forward_hook(post) for layer in stack_layers]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def _forward_states(model, batch: dict, stack: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Hidden states at scored positions ([embeddings, layer 0, …]) and the final logits there."""
    device = next(model.parameters()).device
    with torch.no_grad(), capture_layers(model, stack) as store:
        logits = model(**to_device(batch, device)).logits
    mask = batch["score_mask"]
    n = families.num_layers(model, stack)
    if len(store) != n + 1:
        raise ConfigError(f"captured {len(store)} hidden states for {n} layers; "
                          "the model skipped or repeated layers")
    # layers of a model spread over several GPUs live on different devices
    return [h[mask.to(h.device)] for h in store], logits[mask.to(logits.device)]


def _head(model, stack: str):
    """The function from a layer's hidden state to logits: final norm, LM head, soft cap."""
    norm = families.final_norm(model, stack)
    head = model.get_output_embeddings()
    cap = getattr(families.unwrap(model).config, "final_logit_softcapping", None)

    def project(h: torch.Tensor) -> torch.Tensor:
        logits = head(norm(h.to(head.weight.device)))
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits.float()

    return project


# ---------------------------------------------------------------- statistics
@dataclass
class _Acc:
    """Running sums for one layer."""

    kl: float = 0.0
    cos: float = 0.0
    top1: float = 0.0
    n: int = 0
    prob_sum: torch.Tensor | None = None
    new_mass: float = 0.0
    new_n: int = 0

    def add_new_mass(self, logp: torch.Tensor, new: torch.Tensor) -> None:
        """Probability on the new tokens (`new`: a boolean mask over the vocabulary), summed."""
        mask = new.to(logp.device)[: logp.shape[-1]]
        self.new_mass += logp[:, : mask.shape[0]][:, mask].exp().sum().item()
        self.new_n += logp.shape[0]

    def add(self, ref_logp: torch.Tensor, logp: torch.Tensor, keep_probs: bool) -> None:
        p_ref, p = ref_logp.exp(), logp.exp()
        self.kl += (p_ref * (ref_logp - logp)).sum(-1).sum().item()
        self.cos += F.cosine_similarity(p_ref, p, dim=-1).sum().item()
        self.top1 += (ref_logp.argmax(-1) == logp.argmax(-1)).sum().item()
        self.n += logp.shape[0]
        if keep_probs:
            s = p.sum(0).cpu()
            self.prob_sum = s if self.prob_sum is None else self.prob_sum + s


@dataclass
class LensResult:
    """Rows per layer and, for the first text, the top-1 token grid used by the heat map."""

    rows: list[ResultRow]
    detail: dict = field(default_factory=dict)


def _detail(tok, layer_logp: list[torch.Tensor], n_pos: int, layer_ids: list[int]) -> dict:
    grid = []
    for logp in layer_logp:
        p, i = logp[:n_pos].exp().max(-1)
        grid.append([[tok.decode([int(t)]), float(f"{float(q):.3g}")] for t, q in zip(i, p)])
    return {"layers": layer_ids, "top1": grid}


@torch.no_grad()
def logit_lens(loaded, texts: list[str], *, base=None, targets: list[str] | None = None,
               src_lang: str | None = None, tgt_lang: str | None = None, top_k: int = 5,
               max_length: int = 256, batch_size: int = 4, detail_positions: int = 24,
               dataset: str | None = None, seed: int = 0,
               new_tokens: int | list[int] | None = None) -> LensResult:
    """Run the logit lens over `texts`; compare with `base` (a `Loaded`, or `"adapter-off"`).

    `new_tokens` (the first new id, or the new ids) adds the mass on them per layer.
    Returns one row per layer and metric, `extra = {layer, stack, top_tokens}`; the
    embedding output is layer -1.
    """
    if not texts:
        raise ConfigError("no texts to read", key="text")
    model, stack = loaded.model, "decoder"
    base_model = _check_base(loaded, base)
    project = _head(model, stack)
    device = model.get_output_embeddings().weight.device
    base_project = None
    if isinstance(base_model, str):
        base_project = _adapter_off(model, project)
    elif base_model is not None:
        base_project = _head(base_model, stack)
    n = families.num_layers(model, stack)
    layer_ids = [EMBED, *range(n)]
    acc = {layer: _Acc() for layer in layer_ids}
    acc_base = {layer: _Acc() for layer in layer_ids}
    new = new_token_mask(new_tokens, model.get_output_embeddings().weight.shape[0])
    detail: dict = {}
    for batch in encode_batches(loaded, texts, targets=targets, src_lang=src_lang, tgt_lang=tgt_lang,
                                max_length=max_length, batch_size=batch_size):
        states, final = _forward_states(model, batch, stack)
        base_states = _base_states(base_model, model, batch, stack) if base_model is not None else None
        first = int(batch["score_mask"][0].sum())
        for start in range(0, final.shape[0], CHUNK):
            sl = slice(start, start + CHUNK)
            ref = F.log_softmax(final[sl].float().to(device), -1)
            logps = []
            for li, layer in enumerate(layer_ids):
                logp = F.log_softmax(project(states[li][sl]), -1)
                acc[layer].add(ref, logp, keep_probs=True)
                if new is not None:
                    acc[layer].add_new_mass(logp, new)
                if base_states is not None:
                    base_logp = F.log_softmax(base_project(base_states[li][sl]), -1).to(logp.device)
                    acc_base[layer].add(logp, base_logp, keep_probs=False)
                    if new is not None:
                        acc_base[layer].add_new_mass(base_logp, new)
                if not detail and start == 0:
                    logps.append(logp)
            if logps:
                detail = _detail(loaded.tokenizer, logps, min(first, detail_positions), layer_ids)
    options = {"top_k": top_k, "max_length": max_length, "stack": stack,
               "kl": "KL(final||layer)", "base": _base_name(base)}
    if new is not None:
        options["new_tokens"] = int(new.sum())
    sig = signature(options=options, seed=seed)
    rows = _rows(loaded, acc, "lens_{}_to_final", top_k, sig, dataset, stack)
    if base_model is not None:
        rows += _rows(loaded, acc_base, "lens_base_{}", 0, sig, dataset, stack,
                      base_name=_base_name(base))
    if new is not None:
        rows += mass_rows(loaded, acc, "lens_new_token_mass", sig, dataset, stack, None)
        if base_model is not None:
            rows += mass_rows(loaded, acc_base, "lens_base_new_token_mass", sig, dataset, stack,
                               _base_name(base))
    return LensResult(rows=rows, detail=detail)


def _base_name(base) -> str | None:
    return base if isinstance(base, str) or base is None else base.name


def _check_base(loaded, base):
    """The model that gives the base distributions: another model, or this one, adapter off."""
    if base is None:
        return None
    if isinstance(base, str):
        if base != "adapter-off":
            raise ConfigError(f"base '{base}': pass a loaded model or 'adapter-off'", key="base")
        if not loaded.is_peft:
            raise ConfigError("--base adapter-off needs a PEFT adapter as --model", key="base")
        return "adapter-off"
    if base.tokenizer.get_vocab() != loaded.tokenizer.get_vocab():
        raise ConfigError("the base and the model tokenize differently; comparing their layers needs "
                          "the same vocabulary (use the adapter's own base)", key="base")
    if families.num_layers(base.model) != families.num_layers(loaded.model):
        raise ConfigError("the base and the model have different numbers of layers", key="base")
    return base.model


def _adapter_off(model, project):
    """`project` with the adapter switched off: a head with trained rows (PEFT trainable
    tokens on a tied or new output row) must read the base's states with the base's rows."""
    def off(h: torch.Tensor) -> torch.Tensor:
        with model.disable_adapter():
            return project(h)

    return off


def _base_states(base_model, model, batch: dict, stack: str) -> list[torch.Tensor]:
    if isinstance(base_model, str):
        with model.disable_adapter():
            return _forward_states(model, batch, stack)[0]
    return _forward_states(base_model, batch, stack)[0]


def _rows(loaded, acc: dict, pattern: str, top_k: int, sig: dict, dataset, stack: str,
          base_name: str | None = None) -> list[ResultRow]:
    rows = []
    for layer, a in acc.items():
        if not a.n:
            continue
        extra = {"layer": layer, "stack": stack}
        if base_name:
            extra["base"] = base_name
        if top_k and a.prob_sum is not None:
            p, ids = (a.prob_sum / a.n).topk(top_k)
            extra["top_tokens"] = [[loaded.tokenizer.decode([int(i)]), float(f"{float(q):.3g}")]
                                   for i, q in zip(ids, p)]
        for key, value in (("kl", a.kl / a.n), ("cos", a.cos / a.n), ("top1", a.top1 / a.n)):
            rows.append(ResultRow(metric=pattern.format(key), value=value, n=a.n, dataset=dataset,
                                  model=loaded.name, signature=sig, extra=dict(extra)))
    return rows


def lens_table(rows: list[ResultRow]) -> str:
    """A markdown table: one line per layer, the lens metrics as columns, the top tokens last."""
    metrics = list(dict.fromkeys(r.metric for r in rows if r.metric.startswith("lens_")))
    by_layer: dict[int, dict] = {}
    for r in rows:
        if r.metric in metrics:
            cell = by_layer.setdefault(r.extra["layer"], {})
            cell[r.metric] = "n/a" if r.value is None else f"{r.value:.4f}"
            if r.extra.get("top_tokens"):
                cell["top"] = " ".join(repr(t) for t, _ in r.extra["top_tokens"])
    head = ["layer", *(m.removeprefix("lens_") for m in metrics), "top tokens (mean probability)"]
    lines = ["| " + " | ".join(head) + " |", "|---:|" + "---:|" * len(metrics) + "---|"]
    for layer in sorted(by_layer):
        cell = by_layer[layer]
        name = "emb" if layer == EMBED else str(layer)
        values = [cell.get(m, "") for m in metrics]
        top = cell.get("top", "").replace("|", "\\|")
        lines.append("| " + " | ".join([name, *values, top]) + " |")
    return "\n".join(lines) + "\n"


def write_lens_outputs(result: LensResult, out_dir: str | Path) -> list[Path]:
    """rows (results.jsonl), lens.md, lens_detail.json and the PNGs in `out_dir`; their paths."""
    from langadapt.report.plots_layers import plot_lens, plot_lens_heatmap
    from langadapt.runs import atomic_write_json, atomic_write_text, write_results

    out = Path(out_dir)
    paths = [write_results(out / "results.jsonl", result.rows),
             atomic_write_text(out / "lens.md", lens_table(result.rows)),
             atomic_write_json(out / "lens_detail.json", result.detail),
             plot_lens(result.rows, out / "lens.png")]
    if result.detail:
        paths.append(plot_lens_heatmap(result.detail, out / "lens_heatmap.png"))
    return paths
