"""langadapt's trainer vs a bare HF `Trainer`: training tokens per second on the same packed data.

Same tiny Qwen3-architecture model (real Qwen3 tokenizer), same packed blocks of
`${data}/mono/bible_mbspeech.txt`, same batch; langadapt runs through `train()` with its
JSONL logging every step, the bare Trainer with nothing extra. By default both keep
packed documents apart (langadapt's default: position ids restarting per document, a
training forward without KV cache); `--joined` lets both attend across documents. Runs alternate
(bare, langadapt, bare, langadapt, …) and the median of each side is compared, so
load from other processes hits both alike.

    python benchmarks/train_overhead.py [--repeats 2] [--steps 6] [--seq-len 128] [--batch-size 4]
        [--model DIR] [--joined]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}; `ratio` = langadapt / bare.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from transformers import (
    AutoModelForCausalLM,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
)

from langadapt.models.loading import load_tokenizer
from langadapt.models.tiny import make_tiny
from langadapt.paths import data_root, tokenizers_root
from langadapt.textio import iter_texts
from langadapt.train import TrainConfig, train
from langadapt.train.packing import PackedDataset, pack, tokenize_documents


class StepClock(TrainerCallback):
    """(time, tokens seen) at the end of every step; the rate skips the first (warm-up) step."""

    def __init__(self):
        self.marks: list[tuple[float, int]] = []

    def on_step_end(self, args, state, control, **kw):
        self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    def rate(self) -> float:
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def bare(model_dir: Path, ds: PackedDataset, a, out: str) -> float:
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.config.use_cache = False  # what a bare-Trainer user must do for per-document attention
    args = TrainingArguments(output_dir=out, max_steps=a.steps + 1, per_device_train_batch_size=a.batch_size,
                             learning_rate=1e-3, report_to="none", save_strategy="no", seed=0,
                             logging_steps=10_000, disable_tqdm=True, dataloader_pin_memory=False,
                             include_num_input_tokens_seen="non_padding")
    clock = StepClock()
    Trainer(model=model, args=args, train_dataset=ds, data_collator=default_data_collator,
            callbacks=[clock]).train()
    return clock.rate()


def ours(model_dir: Path, text: Path, a, out: str) -> float:
    data = {"train": [str(text)], "shuffle_documents": False, "separate_documents": not a.joined}
    cfg = TrainConfig(model=str(model_dir), data=data,
                      method="full", max_steps=a.steps + 1, seq_len=a.seq_len, batch_size=a.batch_size,
                      lr=1e-3, output_dir=out, tensorboard=False)
    clock = StepClock()
    train(cfg, "cpt", callbacks=[clock])
    return clock.rate()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--model", help="an existing model folder (e.g. a trimmed-vocabulary tiny model); "
                                    "default: a tiny Qwen3 with the full Qwen3 tokenizer")
    ap.add_argument("--joined", action="store_true", help="blocks attend across documents (both sides)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    text = data_root() / "mono" / "bible_mbspeech.txt"
    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(a.model) if a.model else make_tiny("qwen3", tokenizers_root() / "qwen3",
                                                            Path(work) / "m")
        tok = load_tokenizer(model_dir)
        blocks = pack(tokenize_documents(tok, iter_texts([text])), a.seq_len, tok.eos_token_id)
        ds = PackedDataset(*blocks, eos_id=None if a.joined else tok.eos_token_id)
        b, o = [], []
        for i in range(a.repeats):
            b.append(bare(model_dir, ds, a, f"{work}/b{i}"))
            o.append(ours(model_dir, text, a, f"{work}/o{i}"))
    vb, vo = statistics.median(b), statistics.median(o)
    print(json.dumps({"name": "train_langadapt_vs_bare_hf_tokens_per_s", "value": round(vo, 2),
                      "unit": "tokens/s", "baseline": round(vb, 2), "ratio": round(vo / vb, 4)}))


if __name__ == "__main__":
    main()
