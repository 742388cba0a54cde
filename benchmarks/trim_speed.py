"""A trimmed Gemma 3 trains faster than the untrimmed one, with the same logits over kept ids.

Gemma 3 270M (262k vocabulary; 168M of its 268M parameters are the tied embedding) is
imported from the cached GGUF (`langadapt model fetch gemma3-270m`), its tokenizer is
trimmed (`langadapt tokenizer trim`) to the ids that Mongolian news plus English FLORES dev
text use, and the model is cut to those rows (`langadapt model resize`, trimmed mode).
Both models then train a few full steps (AdamW, batch 4 x 128 tokens, 2 threads) on the
same token sequences of the news text, one after the other in this process; the median
step time of each gives tokens/s. The logits of both models over kept ids are compared on
FLORES dev lines.

    python benchmarks/trim_speed.py [--steps 5] [--warmup 2] [--imported DIR] [--work DIR]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}; `ratio` = trimmed / untrimmed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from langadapt.models.embeddings import resize_model
from langadapt.models.fetch import cached_path
from langadapt.models.gguf import import_gguf
from langadapt.paths import data_root
from langadapt.tokenizer.extend import Corpus
from langadapt.tokenizer.trim import trim

SEQ_LEN, BATCH, THREADS, ATOL = 128, 4, 2, 1e-5


def blocks(tok, path: Path, n: int) -> torch.Tensor:
    """`n` batches of BATCH x SEQ_LEN ids: the text's tokens, joined with EOS, cut into rows."""
    ids: list[int] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        ids += tok(line, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        if len(ids) >= n * BATCH * SEQ_LEN:
            break
    return torch.tensor(ids[:n * BATCH * SEQ_LEN]).view(n, BATCH, SEQ_LEN)


def step_seconds(folder: Path, data: torch.Tensor, warmup: int) -> list[float]:
    """Seconds of each full training step (forward, backward, AdamW) after `warmup` steps."""
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    times = []
    for i, batch in enumerate(data):
        t0 = time.perf_counter()
        model(input_ids=batch, labels=batch).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def logits(folder: Path, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.inference_mode():
        return [model(ids).logits[0] for ids in inputs]


def kept_logit_diff(full: Path, trimmed: Path, kept: list[int], lines: list[str]) -> float:
    """Max |logit| difference: trimmed model on trimmed ids vs full model on the same old ids."""
    tok = AutoTokenizer.from_pretrained(trimmed)
    kept_t = torch.tensor(kept)
    new_ids = [tok(line, return_tensors="pt")["input_ids"] for line in lines]
    reference = [x[:, kept_t] for x in logits(full, [kept_t[ids] for ids in new_ids])]
    return max((a - b).abs().max().item() for a, b in zip(reference, logits(trimmed, new_ids)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--steps", type=int, default=5, help="measured training steps per model")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--imported", type=Path, default=None,
                    help="an already imported Gemma 3 270M folder (default: import the cached GGUF)")
    ap.add_argument("--work", type=Path, default=None, help="keep intermediate folders here")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    data = data_root()
    news, eng = data / "mono" / "news_ner_v1.txt", data / "flores" / "eng_Latn.dev.txt"
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        full = args.imported
        if full is None:
            gguf = cached_path("gemma3-270m")
            if not gguf.is_file():
                sys.exit(f"{gguf} is missing: run 'langadapt model fetch gemma3-270m' first")
            full = import_gguf(gguf, work / "gemma3-270m")
        summary = trim(full, Corpus([news, eng]), work / "tok-trimmed")
        resize_model(full, work / "tok-trimmed", work / "gemma3-270m-trimmed", dtype="float32", force=True)
        trimmed = work / "gemma3-270m-trimmed"
        kept = json.loads((trimmed / "id_map.json").read_text())["kept_old_ids"]
        lines = (data / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:3] \
            + eng.read_text(encoding="utf-8").splitlines()[:3]
        diff = kept_logit_diff(full, trimmed, kept, lines)

        n = args.warmup + args.steps
        new_data = blocks(AutoTokenizer.from_pretrained(trimmed), news, n)
        old_data = torch.tensor(kept)[new_data]  # the same tokens under the full vocabulary's ids
        t_full = statistics.median(step_seconds(full, old_data, args.warmup))
        t_trim = statistics.median(step_seconds(trimmed, new_data, args.warmup))
    tokens = BATCH * SEQ_LEN
    rows = [
        {"name": "gemma3_270m_trimmed_train_tokens_per_s", "value": round(tokens / t_trim, 1),
         "unit": "tokens/s", "baseline": round(tokens / t_full, 1), "ratio": round(t_full / t_trim, 2)},
        {"name": "gemma3_270m_trimmed_vocab", "value": len(kept), "unit": "ids",
         "baseline": summary["base_size"], "ratio": round(len(kept) / summary["base_size"], 4)},
        {"name": "gemma3_270m_trimmed_max_abs_logit_diff_kept_ids", "value": diff, "unit": "logit",
         "baseline": ATOL, "ratio": diff / ATOL},
    ]
    for row in rows:
        print(json.dumps(row))
    if diff > ATOL:
        sys.exit(f"trimmed logits differ from the full model's over kept ids by {diff} (> {ATOL})")


if __name__ == "__main__":
    main()
