"""Adapter-layer ablation: LoRA switched off (or scaled) in chosen layers, in memory only.

The research scripts this replaces zeroed adapter weights in place, which is easy to
get wrong and can leak into a saved adapter. Here `lora_switched` flips peft's own
per-module switch (`enable_adapters(False)`: the module then returns exactly its base
layer's output) or multiplies the LoRA scaling, for the modules inside the selected
layers of the decoder and/or encoder, and restores every flag afterwards — also when
the evaluation inside raises. The adapter files on disk are never opened for writing.

`run_ablation` builds the paper's Table 1: one variant per `--ablate` spec plus
`none` (the full adapter), each scored by evaluators from a small registry (`loss`
here; `bpb`, `flores`, `choice` plug in from their modules).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from langadapt.config import validate
from langadapt.errors import ConfigError
from langadapt.eval.options import EvalInputs
from langadapt.eval.stats import DEFAULT_RESAMPLES, bootstrap_ci, describe_p, paired_bootstrap, ratio
from langadapt.models import families
from langadapt.registry import Registry
from langadapt.runs import (
    ResultRow,
    atomic_write_text,
    cache_key,
    content_id,
    read_results,
    signature,
    write_results,
)

log = logging.getLogger(__name__)
__all__ = ["EvalInputs", "evaluate", "lora_switched", "paired_deltas", "run_ablation"]

STACKS = {"decoder": ("decoder",), "encoder": ("encoder",), "both": ("encoder", "decoder")}


# ---------------------------------------------------------------- evaluators
Evaluator = Callable[..., list[ResultRow]]
EVALUATORS: Registry[Evaluator] = Registry("ablation metric", key="metrics")


def register_evaluator(name: str) -> Callable[[Evaluator], Evaluator]:
    """Register `fn(loaded, inputs: EvalInputs, out_dir: Path | None) -> list[ResultRow]`.

    `out_dir`, when given, is a folder of this variant where the evaluator may keep
    by-products (e.g. the FLORES hypotheses).
    """
    return EVALUATORS.register(name)


def evaluators() -> dict[str, Evaluator]:
    return EVALUATORS.as_dict()


def evaluate(loaded, metrics: list[str], inputs: EvalInputs, out_dir: Path | None = None
             ) -> list[ResultRow]:
    """Run the named evaluators on the model as it is now (switches applied by the caller)."""
    check_metrics(metrics)
    rows: list[ResultRow] = []
    for m in metrics:
        rows += EVALUATORS.get(m)(loaded, inputs, out_dir / m if out_dir else None)
    return rows


def check_metrics(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in EVALUATORS]
    if unknown or not metrics:
        raise ConfigError(f"unknown ablation metric '{(unknown or [''])[0]}'; known: "
                          f"{', '.join(EVALUATORS)}", key="metrics")


def _need(inputs: EvalInputs, metric: str, *fields: str) -> None:
    missing = [f for f in fields if getattr(inputs, f) in (None, "")]
    if missing:
        raise ConfigError(f"metric '{metric}' needs --{missing[0].replace('_', '-')}", key=missing[0])


@register_evaluator("loss")
def mean_nll(loaded, inputs: EvalInputs, out_dir: Path | None = None) -> list[ResultRow]:
    """Mean next-token negative log-likelihood (nats/token): a quick, tokenizer-bound check.

    With one tokenizer across the variants, its paired differences are as telling as
    bpb's; the per-item `[nats, tokens]` go to `extra.items` for the paired test.
    """
    from langadapt.eval.lens import encode_batches, read_texts, to_device

    _need(inputs, "loss", "text")
    texts, targets = read_texts(inputs.text, inputs.targets, inputs.limit)
    items: list[list[float]] = []
    device = next(loaded.model.parameters()).device
    for batch in encode_batches(loaded, texts, targets=targets, src_lang=inputs.src_lang,
                                tgt_lang=inputs.tgt_lang, max_length=inputs.max_length,
                                batch_size=inputs.batch_size):
        with torch.no_grad():
            logits = loaded.model(**to_device(batch, device)).logits.float()
        labels = batch["labels"].to(device)
        # flattened: cross_entropy on a transposed (B, V, T) view is many times slower
        nll = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100,
                              reduction="none").view(labels.shape).sum(-1)
        items += [[float(a), float(b)] for a, b in zip(nll, (labels != -100).sum(-1))]
    value, low, high = bootstrap_ci(items, ratio(0, 1), resamples=inputs.resamples, seed=inputs.seed)
    sig = signature(options={"unit": "nats/token", "max_length": inputs.max_length,
                             "limit": inputs.limit, "resamples": inputs.resamples, "ci": 0.95},
                    seed=inputs.seed,
                    data=[p for p in (inputs.text, inputs.targets) if p])
    return [ResultRow(metric="mean_nll", value=value, ci=None if low is None else [low, high],
                      n=int(sum(b for _, b in items)), model=loaded.name, dataset=Path(inputs.text).name,
                      signature=sig, extra={"items": items})]


@register_evaluator("bpb")
def bpb(loaded, inputs: EvalInputs, out_dir: Path | None = None) -> list[ResultRow]:
    """Bits per byte (and token / word perplexity) from `langadapt.eval.perplexity`."""
    from langadapt.eval.perplexity import BpbOptions, evaluate_bpb

    _need(inputs, "bpb", "text")
    opts = validate(BpbOptions, {
        "model": loaded.name, "text": [inputs.text], "max_docs": inputs.limit,
        "batch_size": inputs.batch_size, "max_length": inputs.max_length,
        "lang": inputs.src_lang if loaded.is_seq2seq else None, "seed": inputs.seed,
        "resamples": inputs.resamples, **inputs.options.get("bpb", {})}, file="options.bpb")
    return evaluate_bpb(opts, loaded=loaded)


@register_evaluator("flores")
def flores(loaded, inputs: EvalInputs, out_dir: Path | None = None) -> list[ResultRow]:
    """FLORES BLEU / chrF++ with CIs from `langadapt.eval.translation` (greedy, HF generate).

    `options.flores` passes keyword arguments to `eval_flores` (e.g. `metrics`, `split`);
    `options.generation` to `GenerationOptions`.
    """
    from langadapt.eval.translation import FloresOptions, eval_flores

    _need(inputs, "flores", "src_lang", "tgt_lang")
    # backend hf: an in-memory model with switched layers must generate itself (vLLM would reload)
    gen = {"batch_size": inputs.batch_size, "seed": inputs.seed,
           **inputs.options.get("generation", {}), "backend": "hf"}
    opts = validate(FloresOptions, {
        "model": loaded.name, "src": inputs.src_lang, "tgt": inputs.tgt_lang, "data": inputs.flores,
        "seed": inputs.seed, "limit": inputs.limit, "metrics": ["bleu", "chrf++"],
        "resamples": inputs.resamples, "generation": gen, **inputs.options.get("flores", {})},
        file="options.flores")
    return eval_flores(opts, loaded=loaded, out_dir=out_dir)


@register_evaluator("choice")
def choice(loaded, inputs: EvalInputs, out_dir: Path | None = None) -> list[ResultRow]:
    """Multiple-choice accuracy with CIs from `langadapt.eval.choice` (task name or file)."""
    from langadapt.eval.choice import ChoiceOptions, evaluate_choice

    _need(inputs, "choice", "task")
    opts = validate(ChoiceOptions, {
        "model": loaded.name, "task": inputs.task, "batch_size": inputs.batch_size,
        "limit": inputs.limit, "seed": inputs.seed, "resamples": inputs.resamples,
        **inputs.options.get("choice", {})}, file="options.choice")
    return evaluate_choice(opts, loaded=loaded).rows


def adapter_modules(model, stack: str, indices: list[int]) -> list[tuple[str, object]]:
    """(name, module) of every PEFT tuner module inside layers `indices` of `stack`."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    stack_layers = families.layers(model, stack)
    found = []
    for i in indices:
        for name, mod in stack_layers[i].named_modules():
            if isinstance(mod, BaseTunerLayer):
                found.append((f"{stack}.{i}.{name}", mod))
    return found


def _check_peft(model) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    if not any(isinstance(m, BaseTunerLayer) for m in model.modules()):
        raise ConfigError("the model has no adapter to switch off: give a PEFT adapter folder "
                          "(with adapter_config.json) as --model", key="model")


@contextlib.contextmanager
def lora_switched(model, selection: dict[str, list[int]], scale: float = 0.0) -> Iterator[int]:
    """Within the block, adapters in the selected layers are off (`scale=0`) or scaled.

    Args:
        model: a PEFT model (e.g. `load_model(adapter_dir).model`).
        selection: stack name -> layer indices, e.g. `{"decoder": [0, 1]}`.
        scale: 0 switches the adapter modules off (their output is the base layer's,
            bit for bit); another value multiplies the LoRA scaling (alpha / r).

    Yields:
        The number of adapter modules switched.
    """
    _check_peft(model)
    modules = [m for stack, idx in selection.items() for m in adapter_modules(model, stack, idx)]
    merged = [name for name, m in modules if getattr(m, "merged", False)]
    if merged:
        raise ConfigError(f"adapter weights are merged into the base ({merged[0]} …); ablation needs "
                          "an unmerged adapter: load the adapter folder, not a merged model")
    saved = []
    try:
        for _, mod in modules:
            # enable_adapters() also resets requires_grad, so remember those flags too
            grads = {id(p): (p, p.requires_grad) for p in mod.parameters()}
            saved.append((mod, mod.disable_adapters, dict(getattr(mod, "scaling", {}) or {}), grads))
            if scale == 0.0:
                mod.enable_adapters(False)
            elif hasattr(mod, "scaling"):
                for name in mod.active_adapters:
                    if name in mod.scaling:
                        mod.scaling[name] *= scale
            else:
                raise ConfigError(f"{type(mod).__name__} adapters cannot be scaled; use scale 0")
        yield len(modules)
    finally:
        for mod, was_disabled, scaling, grads in reversed(saved):
            mod.enable_adapters(not was_disabled)
            if scaling:
                mod.scaling.clear()
                mod.scaling.update(scaling)
            for p, flag in grads.values():
                p.requires_grad_(flag)


def selection_for(model, spec: str, stack: str = "decoder") -> dict[str, list[int]]:
    """Layer indices per stack for one ablation spec (`early`, `middle`, `late`, `i-j`, `all`…)."""
    if stack not in STACKS:
        raise ConfigError(f"unknown stack '{stack}'; use decoder, encoder or both", key="stack")
    fam = families.family_of(model)
    missing = [s for s in STACKS[stack] if s not in fam.stacks]
    if missing:
        raise ConfigError(f"{fam.name} models have no {missing[0]} stack; use --stack decoder",
                          key="stack")
    return {s: families.resolve_layers(spec, families.num_layers(model, s)) for s in STACKS[stack]}


def variant_name(spec: str, scale: float = 0.0) -> str:
    """`lora-off:early`, or `lora-x0.5:early` for a scaled variant."""
    return f"lora-off:{spec}" if scale == 0.0 else f"lora-x{scale:g}:{spec}"


def _cache_path(out_dir: Path, spec: str) -> Path:
    return out_dir / "variants" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", spec) + ".jsonl")


def run_ablation(loaded, specs: list[str], inputs: EvalInputs, *, metrics: list[str],
                 stack: str = "decoder", scale: float = 0.0, out_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> list[ResultRow]:
    """Score the full adapter (`none`) and one variant per spec with those layers switched off.

    With `out_dir`, each finished variant is saved (`variants/<spec>.jsonl`) and skipped
    when the same run is repeated, so an interrupted ablation resumes; the Table 1 layout
    is written to `ablation.md`, the bars to `ablation.png` and all rows to `results.jsonl`.
    `cache_dir` keeps the finished variants elsewhere (default: `out_dir`).
    """
    model = loaded.model
    _check_peft(model)
    check_metrics(metrics)
    specs = ["none"] + [s for s in dict.fromkeys(specs) if s != "none"]
    plan = {s: selection_for(model, s, stack) for s in specs}  # fail early on a bad spec
    # the model and input files by content, and langadapt's version: a variant saved for
    # other files or by older code is evaluated again, not reused
    files = {f: content_id(getattr(inputs, f)) for f in ("text", "targets", "flores", "task")
             if getattr(inputs, f)}
    key = cache_key({"model": content_id(loaded.name), "inputs": inputs.model_dump(), "files": files,
                     "metrics": metrics, "stack": stack, "scale": scale})
    out = Path(out_dir) if out_dir else None
    keep = Path(cache_dir) if cache_dir else out
    rows: list[ResultRow] = []
    for spec in specs:
        cache = _cache_path(keep, spec) if keep else None
        cached = read_results(cache) if cache else []
        if cached and all(r.extra.get("ablation_key") == key for r in cached):
            log.info("ablation %s: already done, kept", spec)
            rows += cached
            continue
        with lora_switched(model, plan[spec], scale) as n_modules:
            log.info("ablation %s: %d adapter modules switched (%s)", spec, n_modules, plan[spec])
            got = evaluate(loaded, metrics, inputs, cache.with_suffix("") if cache else None)
        for r in got:
            r.variant = variant_name(spec, scale)
            r.extra.update(ablate=spec, stack=stack, disabled_layers=plan[spec], scale=scale,
                           adapter_modules_switched=n_modules, ablation_key=key)
            r.signature.setdefault("options", {})["ablation"] = {"ablate": spec, "stack": stack,
                                                                 "scale": scale}
        if cache:
            write_results(cache, got)
        rows += got
    rows += paired_deltas(rows, resamples=inputs.resamples, seed=inputs.seed)
    for r in rows:
        r.extra.pop("items", None)  # per-item statistics stay in the variant files
    if out:
        write_results(out / "results.jsonl", rows)
        atomic_write_text(out / "ablation.md", ablation_table(rows))
        from langadapt.report.plots_layers import plot_ablation

        plot_ablation(rows, out / "ablation.png")
    return rows


def paired_deltas(rows: list[ResultRow], *, resamples: int = DEFAULT_RESAMPLES,
                  seed: int = 0) -> list[ResultRow]:
    """`<metric>.delta` rows: each variant minus the full adapter, paired over the same items.

    Only metrics whose rows carry per-item `[numerator, denominator]` statistics
    (`extra.items`, e.g. `mean_nll`) get one. The interval and the p-value come from
    `langadapt.eval.stats.paired_bootstrap` (both variants resampled with the same indices).
    """
    import numpy as np

    full = {r.metric: r for r in rows if r.extra.get("ablate") == "none" and r.extra.get("items")}
    out = []
    for r in rows:
        ref = full.get(r.metric)
        if ref is None or r is ref or not r.extra.get("items"):
            continue
        a, b = np.asarray(r.extra["items"], float), np.asarray(ref.extra["items"], float)
        if a.shape != b.shape:
            continue
        res = paired_bootstrap(a, b, ratio(0, 1), resamples=resamples, seed=seed)
        extra = {k: v for k, v in r.extra.items() if k != "items"}
        out.append(r.model_copy(update={
            "metric": f"{r.metric}.delta", "value": res.delta, "ci": list(res.ci) if res.ci else None,
            "extra": {**extra, "p_value": res.p_value, "resamples": res.resamples,
                      "test": res.test, "baseline": "lora-off:none"}}))
    return out


def _fmt(r: ResultRow) -> str:
    if r.value is None:
        return "n/a"
    def num(v: float) -> str:
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"

    text = num(r.value)
    if r.ci:
        text += f" [{num(r.ci[0])}, {num(r.ci[1])}]"
    p = r.extra.get("p_value")
    if p is not None:
        text += f" ({describe_p(p, None, None)})"
    return text


def _layers_text(disabled: dict) -> str:
    parts = []
    for stack, idx in disabled.items():
        parts.append(f"{stack} " + (_ranges(idx) if idx else "–"))
    return "; ".join(parts) or "–"


def _ranges(idx: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    out, start = [], None
    for k, i in enumerate(idx):
        if start is None:
            start = i
        if k + 1 == len(idx) or idx[k + 1] != i + 1:
            out.append(str(start) if start == i else f"{start}-{i}")
            start = None
    return ",".join(out)


def ablation_table(rows: list[ResultRow]) -> str:
    """The paper's Table 1 as markdown: variant × disabled layers × metrics (95% CI when known)."""
    rows = [r for r in rows if "ablate" in r.extra]
    metrics = list(dict.fromkeys(r.metric for r in rows))
    variants: dict[str, dict] = {}
    for r in rows:
        v = variants.setdefault(r.variant, {"layers": _layers_text(r.extra["disabled_layers"])})
        v[r.metric] = _fmt(r)
    lines = ["| variant | LoRA off in layers | " + " | ".join(metrics) + " |",
             "|---|---|" + "---:|" * len(metrics)]
    for name, v in variants.items():
        lines.append(f"| {name} | {v['layers']} | " + " | ".join(v.get(m, "") for m in metrics) + " |")
    return "\n".join(lines) + "\n"
