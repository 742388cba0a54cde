"""Padding-free sft / causal-mt batches: the same loss as batches padded to the longest example."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

from langadapt.train import TrainConfig, train
from langadapt.train.chat import ensure_chat_template
from langadapt.train.config import MtOptions
from langadapt.train.mt import directed, encode_causal, iter_pairs
from langadapt.train.objectives import _examples


def _translation_examples(model_dir, data_dir, n=3):
    tok = AutoTokenizer.from_pretrained(model_dir)
    ensure_chat_template(tok)
    pairs = list(iter_pairs([str(data_dir / "parallel" / "mn_en.tsv")], ("khk_Cyrl", "eng_Latn"), n))
    items = [encode_causal(tok, MtOptions().prompt, ex, 256)
             for ex in directed(pairs, ("khk_Cyrl", "eng_Latn"), "both")]
    return tok, items


@pytest.mark.parametrize("arch", ["qwen3", "llama", "gemma3"])
def test_flattened_batch_loss_equals_the_padded_batch_loss(small_model, data_dir, arch):
    tok, items = _translation_examples(small_model(arch), data_dir)
    lengths = {len(x["input_ids"]) for x in items}
    assert len(lengths) > 1   # padding would happen
    model = AutoModelForCausalLM.from_pretrained(small_model(arch)).eval()
    padded = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)(items)
    flat = _examples(tok, items, None, padding_free=True).collator(items)
    assert flat["input_ids"].shape == (1, sum(len(x["input_ids"]) for x in items))
    assert "attention_mask" not in flat
    with torch.no_grad():
        want = model(**padded, use_cache=False).loss
        got = model(**flat, use_cache=False).loss
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_training_losses_match_the_padded_path(small_model, data_dir, tmp_path):
    runs = {}
    for padding_free in (True, False):
        cfg = TrainConfig.model_validate(dict(
            model=str(small_model("qwen3")), output_dir=str(tmp_path / str(padding_free)), method="full",
            data={"train": [str(data_dir / "parallel" / "mn_en.tsv")], "limit": 24, "eval_fraction": 0.25,
                  "padding_free": padding_free},
            seq_len=96, batch_size=4, max_steps=3, lr=1e-2, eval_steps=3))
        runs[padding_free] = train(cfg, "mt")
    flat, padded = runs[True], runs[False]
    loss = [r["loss"] for r in flat.log if "loss" in r]
    assert len(loss) == 3
    assert loss == pytest.approx([r["loss"] for r in padded.log if "loss" in r], rel=1e-5)
    assert flat.summary["eval_loss"] == pytest.approx(padded.summary["eval_loss"], rel=1e-5)
    # both count real tokens only: the padded path by attention mask, the flat one has no pads
    assert flat.summary["total_tokens"] == padded.summary["total_tokens"]
