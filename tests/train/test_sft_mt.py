"""Translation and instruction tuning end to end on tiny models with the real tokenizers."""

import json

import torch

from langadapt.models.loading import load_model
from langadapt.models.seq2seq import encode_with_lang, lang_token_id
from langadapt.train import TrainConfig, train


def test_m2m100_lora_both_directions_saved_reloaded_generates(small_model, data_dir, tmp_path):
    out = tmp_path / "nllb-lora"
    cfg = TrainConfig.model_validate(dict(
        model=str(small_model("m2m100")), output_dir=str(out), method="lora", lora={"r": 4},
        data={"train": [str(data_dir / "parallel" / "mn_en.tsv")], "limit": 40, "eval_fraction": 0.1},
        mt={"columns": ["khk_Cyrl", "eng_Latn"], "directions": "both"},
        seq_len=48, batch_size=4, max_steps=3, lr=1e-2))
    res = train(cfg, "mt")
    assert (out / "adapter_config.json").is_file() and res.summary["eval_loss"] is not None
    assert res.summary["tokens_per_epoch"] > 0
    loaded = load_model(out)
    assert loaded.is_peft and loaded.is_seq2seq
    tok = loaded.tokenizer
    for src_code, tgt_code, text in [("khk_Cyrl", "eng_Latn", "Сайн байна уу"),
                                     ("eng_Latn", "khk_Cyrl", "Good morning")]:
        ids = torch.tensor([encode_with_lang(tok, text, src_code)])
        gen = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                                    forced_bos_token_id=lang_token_id(tok, tgt_code), do_sample=False)
        assert gen[0, 1].item() == lang_token_id(tok, tgt_code)


def test_qwen3_sft_as_translator(small_model, data_dir, tmp_path):
    """Causal mt: a translation prompt through the chat template, loss on the target only."""
    out = tmp_path / "qwen-translator"
    base_emb = load_model(small_model("qwen3")).model.get_input_embeddings().weight
    first_new = base_emb.shape[0] - 3000   # the last 3000 rows play the new tokens
    cfg = TrainConfig.model_validate(dict(
        model=str(small_model("qwen3")), output_dir=str(out), method="lora",
        lora={"r": 4, "train_embeddings": True}, embedding_lr=1e-3,
        embeddings={"base_vocab_size": first_new},
        data={"train": [str(data_dir / "parallel" / "mn_en.tsv")], "limit": 20},
        seq_len=96, batch_size=4, max_steps=2, lr=1e-2))
    res = train(cfg, "mt")
    assert res.summary["steps"] == 2
    loaded = load_model(out)
    merged = load_model(out).model.merge_and_unload().get_input_embeddings().weight
    assert torch.equal(base_emb[:first_new], merged[:first_new])
    assert not torch.equal(base_emb[first_new:], merged[first_new:])   # trained, saved, tied
    tok = loaded.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "Translate: Сайн уу"}],
                                     tokenize=False, add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    gen = loaded.model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert gen.shape[1] == ids["input_ids"].shape[1] + 3


def test_sft_messages_and_instruction_jsonl(small_model, tmp_path):
    data = tmp_path / "sft.jsonl"
    recs = [{"messages": [{"role": "user", "content": f"{i} + {i} = ?"},
                          {"role": "assistant", "content": str(2 * i)}]} for i in range(12)]
    recs += [{"instruction": "Орчуул", "input": "cat", "output": "муур"}] * 4
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    cfg = TrainConfig.model_validate(dict(
        model=str(small_model("qwen3")), output_dir=str(tmp_path / "sft"), method="full",
        data={"train": [str(data)], "eval_fraction": 0.25}, seq_len=64, batch_size=4, max_steps=2))
    res = train(cfg, "sft")
    assert res.summary["eval_loss"] is not None
    assert not load_model(res.output_dir).is_peft


def test_causal_mt_all_examples_too_long_is_one_error(small_model, data_dir, tmp_path):
    """seq_len shorter than every translation example: a DataError naming the data, not a torch crash."""
    import pytest

    from langadapt.errors import DataError

    cfg = TrainConfig.model_validate(dict(
        model=str(small_model("qwen3")), output_dir=str(tmp_path / "out"), method="lora", lora={"r": 4},
        data={"train": [str(data_dir / "parallel" / "mn_en.tsv")], "limit": 8},
        seq_len=8, batch_size=2, max_steps=1))
    with pytest.raises(DataError, match="longer than seq_len 8") as e:
        train(cfg, "mt")
    assert "mn_en.tsv" in str(e.value)
    assert not (tmp_path / "out" / "adapter_config.json").exists()
