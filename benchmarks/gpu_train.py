"""GPU training benchmark: Qwen2.5-0.5B's architecture, bf16, packed 2048, LoRA and full.

A model with Qwen2.5-0.5B's published configuration (24 layers, hidden 896, 14 heads,
2 KV heads, MLP 4864, vocabulary 151,936, tied embeddings) and random weights, the real
Qwen3 tokenizer (same BPE vocabulary) and packed blocks of 2048 tokens of
`${data}/mono/news_ner_v1.txt`, the same blocks on both sides, each document attending
only to itself (langadapt's default; `--joined` lets both sides attend across
documents). For each method (full, LoRA r=16 on all projections) it trains through
`langadapt.train.train` and through a bare HF `Trainer` on the same data and model, in
this process, and reports tokens/s, model FLOPs utilisation and peak GPU memory. Skips
(exit 0, nothing on stdout) without CUDA. Budget: well under 8 minutes on one H100.

    python benchmarks/gpu_train.py [--steps 20] [--warmup 3] [--batch-size 4] [--seq-len 2048] [--joined]
    python benchmarks/gpu_train.py --smoke      # the same code on a 2-layer model, CPU allowed

MFU = achieved model FLOPs / peak dense bf16 FLOPs (H100/H200 SXM: 989 TFLOP/s; override
with --peak-tflops). Model FLOPs per token: full = 6·N + 12·L·d·s (weights: forward 2N,
backward 4N; attention scores and values), LoRA = 4·N + 12·L·d·s (no weight gradients
for the frozen base), N = parameters incl. the tied head once, L layers, d hidden, s seq.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    Qwen2Config,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
)

from langadapt.models.loading import load_tokenizer
from langadapt.paths import data_root, tokenizers_root
from langadapt.textio import iter_texts
from langadapt.train import TrainConfig, train
from langadapt.train.packing import PackedDataset, pack, tokenize_documents

QWEN25_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                  rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                  use_sliding_window=False, hidden_act="silu")
SMOKE = dict(QWEN25_05B, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2)


class StepClock(TrainerCallback):
    """Synchronised (time, tokens seen) at each step end; the rate skips the warm-up steps."""

    def __init__(self, warmup: int):
        self.warmup, self.marks = warmup, []

    def on_step_end(self, args, state, control, **kw):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    def rate(self) -> float:
        (t0, n0), (t1, n1) = self.marks[self.warmup - 1], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def flops_per_token(cfg: dict, n_params: int, seq: int, method: str) -> float:
    weights = (6 if method == "full" else 4) * n_params
    return weights + 12 * cfg["num_hidden_layers"] * cfg["hidden_size"] * seq


def _bare(model_dir: Path, ds, method: str, a, out: str, clock: StepClock) -> None:
    gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if (gpu and method == "lora") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.config.use_cache = False  # what a bare-Trainer user must do for per-document attention
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    args = TrainingArguments(output_dir=out, max_steps=a.steps + a.warmup, learning_rate=1e-4,
                             per_device_train_batch_size=a.batch_size, bf16=gpu, report_to="none",
                             save_strategy="no", logging_steps=10_000, disable_tqdm=True, seed=0,
                             include_num_input_tokens_seen="non_padding", dataloader_pin_memory=gpu)
    Trainer(model=model, args=args, train_dataset=ds, data_collator=default_data_collator,
            callbacks=[clock]).train()


def _ours(model_dir: Path, text: Path, method: str, a, out: str, clock: StepClock) -> dict:
    data = {"train": [str(text)], "shuffle_documents": False, "separate_documents": not a.joined}
    cfg = TrainConfig(model=str(model_dir), data=data, method=method,
                      lora={"r": 16, "alpha": 32}, max_steps=a.steps + a.warmup, seq_len=a.seq_len,
                      batch_size=a.batch_size, lr=1e-4, output_dir=out, tensorboard=False)
    return train(cfg, "cpt", callbacks=[clock]).summary


def measure(run, arch: dict, n_params: int, method: str, a) -> dict:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    clock = StepClock(a.warmup)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON lines only
        run(clock)
    tps = clock.rate()
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    mfu = tps * flops_per_token(arch, n_params, a.seq_len, method) / (a.peak_tflops * 1e12)
    return {"tokens_per_s": tps, "mfu": mfu, "peak_gib": peak}


def emit(name: str, value: float | None, unit: str, baseline: float | None) -> None:
    ok = value is not None and baseline
    print(json.dumps({"name": name, "value": None if value is None else round(value, 4), "unit": unit,
                      "baseline": None if baseline is None else round(baseline, 4),
                      "ratio": round(value / baseline, 4) if ok else None}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--methods", nargs="+", default=["lora", "full"])
    ap.add_argument("--joined", action="store_true", help="blocks attend across documents (both sides)")
    ap.add_argument("--smoke", action="store_true", help="2-layer model; runs on CPU to check the script")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not torch.cuda.is_available() and not a.smoke:
        print("gpu_train: no CUDA device; skipped", file=sys.stderr)
        return
    if a.smoke:
        a.steps, a.warmup, a.batch_size, a.seq_len = min(a.steps, 2), 1, 1, min(a.seq_len, 256)
    arch = SMOKE if a.smoke else QWEN25_05B
    text = data_root() / "mono" / "news_ner_v1.txt"
    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work) / "qwen2.5-0.5b-arch"
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(Qwen2Config(**arch))
        n_params = sum(p.numel() for p in model.parameters())
        tok = load_tokenizer(tokenizers_root() / "qwen3")
        model.save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        del model
        # the same blocks langadapt packs (documents in file order), kept apart unless --joined
        ds = PackedDataset(*pack(tokenize_documents(tok, iter_texts([text])), a.seq_len, tok.eos_token_id),
                           eos_id=None if a.joined else tok.eos_token_id)
        for method in a.methods:
            b = measure(lambda c, m=method: _bare(model_dir, ds, m, a, f"{work}/b-{m}", c), arch, n_params,
                        method, a)
            o = measure(lambda c, m=method: _ours(model_dir, text, m, a, f"{work}/o-{m}", c), arch,
                        n_params, method, a)
            tag = (f"gpu_train_{method}_qwen2.5-0.5b_seq{a.seq_len}" + ("_joined" if a.joined else "")
                   + ("_smoke" if a.smoke else ""))
            emit(f"{tag}_tokens_per_s", o["tokens_per_s"], "tokens/s", b["tokens_per_s"])
            emit(f"{tag}_mfu", o["mfu"], "fraction", b["mfu"])
            emit(f"{tag}_peak_memory", o["peak_gib"], "GiB", b["peak_gib"])


if __name__ == "__main__":
    main()
