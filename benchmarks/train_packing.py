"""Packed training vs padding every line to the sequence length: non-pad tokens per second.

The original research scripts tokenized each line with `padding="max_length"`; langadapt
packs documents (joined with EOS) into full blocks. Both run through the same HF Trainer
on the same tiny Qwen3-architecture model (real Qwen3 tokenizer) and the same news text
(`${data}/mono/news_ner_v1.txt`), at sequence length 1024, in this process.

    python benchmarks/train_packing.py [--seq-len 1024] [--steps 4] [--batch-size 2] [--hidden 64]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}; `ratio` = packed / padded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset
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
from langadapt.train.packing import PackedDataset, pack, tokenize_documents


class PaddedLines(Dataset):
    """One line per example, padded to max_length (labels -100 on padding): the old way."""

    def __init__(self, tok, lines: list[str], seq_len: int):
        enc = tok(lines, padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt")
        self.ids, self.mask = enc["input_ids"], enc["attention_mask"]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        labels = self.ids[i].masked_fill(self.mask[i] == 0, -100)
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": labels}


class StepClock(TrainerCallback):
    """(time, tokens seen) at the end of every step; the rate skips the first (warm-up) step."""

    def __init__(self):
        self.marks: list[tuple[float, int]] = []

    def on_step_end(self, args, state, control, **kw):
        self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    def rate(self) -> float:
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def real_tokens_per_second(model_dir: Path, ds: Dataset, steps: int, batch: int, out: str) -> float:
    """Non-pad tokens per second of `steps` optimizer steps (after one warm-up step)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = TrainingArguments(output_dir=out, max_steps=steps + 1, per_device_train_batch_size=batch,
                             learning_rate=1e-3, report_to="none", save_strategy="no", logging_steps=1,
                             seed=0, disable_tqdm=True, include_num_input_tokens_seen="non_padding",
                             dataloader_pin_memory=False)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=default_data_collator)
    mark = StepClock()
    trainer.add_callback(mark)
    trainer.train()
    return mark.rate()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(os.cpu_count() or 1)
    text = data_root() / "mono" / "news_ner_v1.txt"
    with tempfile.TemporaryDirectory() as work:
        model_dir = make_tiny("qwen3", tokenizers_root() / "qwen3", Path(work) / "m", hidden=a.hidden,
                              heads=4, kv_heads=2, intermediate=2 * a.hidden)
        tok = load_tokenizer(model_dir)
        lines = list(iter_texts([text]))
        packed = PackedDataset(*pack(tokenize_documents(tok, lines), a.seq_len, tok.eos_token_id,
                                     shuffle_seed=0))
        padded = PaddedLines(tok, lines, a.seq_len)
        pad_share = float(padded.mask.float().mean())
        tps_pad = real_tokens_per_second(model_dir, padded, a.steps, a.batch_size, work + "/p")
        tps_pack = real_tokens_per_second(model_dir, packed, a.steps, a.batch_size, work + "/k")
    for name, value, unit, base in [
        (f"train_packed_nonpad_tokens_per_s_seq{a.seq_len}", tps_pack, "tokens/s", tps_pad),
        (f"train_padded_real_token_share_seq{a.seq_len}", pad_share, "fraction", 1.0),
    ]:
        print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "baseline": round(base, 4),
                          "ratio": round(value / base, 4)}))


if __name__ == "__main__":
    main()
