"""The trainer lifecycle on tiny real-architecture models: outputs, resume, methods."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from langadapt.models.loading import load_model
from langadapt.train import TrainConfig, train
from langadapt.train.callbacks import read_log


def _cfg(model, data_dir, out, **kw):
    base = dict(model=str(model), output_dir=str(out), seq_len=32, batch_size=2, lr=5e-3, max_steps=4,
                data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 60,
                      "eval_fraction": 0.1})
    data = {**base["data"], **kw.pop("data", {})}
    return TrainConfig.model_validate({**base, **kw, "data": data})


def test_cpt_full_writes_the_output_contract(small_model, data_dir, tmp_path):
    out = tmp_path / "full"
    res = train(_cfg(small_model("qwen3"), data_dir, out, method="full", eval_steps=2), "cpt")
    steps = [r for r in res.log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert set(steps[0]) == {"step", "loss", "learning_rate", "tokens_per_second", "epoch"}
    assert all(r["tokens_per_second"] > 0 for r in steps)
    assert [r["step"] for r in res.log if "eval_loss" in r] == [2, 4]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["trainable_params"] == summary["total_params"] > 0
    assert summary["total_tokens"] == 4 * 2 * 32
    assert summary["eval_loss"] == pytest.approx(res.log[-1]["eval_loss"])
    loaded = load_model(out)
    assert not loaded.is_peft
    before = load_model(small_model("qwen3")).model.state_dict()
    assert not torch.equal(before["model.layers.0.mlp.up_proj.weight"],
                           loaded.model.state_dict()["model.layers.0.mlp.up_proj.weight"])
    assert {r.metric for r in res.rows()} == {"train_loss", "eval_loss", "tokens_per_second"}


class _Kill(TrainerCallback):
    """Simulates a kill at the end of step `at`, before it is logged or saved."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_resume_after_kill_equals_uninterrupted(small_model, data_dir, tmp_path):
    kw = dict(method="lora", lora={"r": 4, "dropout": 0.1}, max_steps=6, save_steps=2)
    full = train(_cfg(small_model("qwen3"), data_dir, tmp_path / "a", **kw), "cpt")
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(small_model("qwen3"), data_dir, tmp_path / "b", **kw), "cpt", callbacks=[_Kill(4)])
    # step 4 ran but was neither logged nor saved; step 3 was logged after the last checkpoint
    assert [r["step"] for r in read_log(tmp_path / "b" / "train_log.jsonl")] == [1, 2, 3]
    resumed = train(_cfg(small_model("qwen3"), data_dir, tmp_path / "b", resume=True, **kw), "cpt")
    assert resumed.summary["resumed_from"].endswith("checkpoint-2")
    a = [r["loss"] for r in full.log if "loss" in r]
    b = [r["loss"] for r in resumed.log if "loss" in r]
    assert len(a) == len(b) == 6
    assert b == pytest.approx(a, rel=1e-6)
    wa = load_file(tmp_path / "a" / "adapter_model.safetensors")
    wb = load_file(tmp_path / "b" / "adapter_model.safetensors")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-6, atol=1e-7)


def _adam_state_numel(checkpoint):
    state = torch.load(checkpoint / "optimizer.pt", weights_only=True)["state"]
    return sum(t.numel() for s in state.values() for k, t in s.items() if k != "step")


@pytest.mark.parametrize("arch, matrices", [("qwen3", 1), ("llama", 2)])   # tied / untied head
def test_embeddings_new_rows_only_leaves_everything_else_bit_identical(small_model, data_dir, tmp_path,
                                                                      arch, matrices):
    base = small_model(arch)
    n_vocab = load_model(base).model.get_input_embeddings().weight.shape[0]
    n_new = 3000   # pretend the last 3000 rows are new tokens
    first_new = n_vocab - n_new
    cfg = _cfg(base, data_dir, tmp_path / "emb", method="embeddings", lr=5e-2, weight_decay=0.1,
               save_steps=4, embeddings={"new_rows_only": True, "base_vocab_size": first_new})
    res = train(cfg, "cpt")
    # PEFT trainable tokens: only the new rows are parameters (one copy for a tied head) ...
    assert res.summary["trainable_params"] == matrices * n_new * 16
    # ... so Adam keeps two moments of the new rows only, not of whole matrices
    assert _adam_state_numel(tmp_path / "emb" / "checkpoints" / "checkpoint-4") == 2 * matrices * n_new * 16
    # the output is the merged model folder, as before
    assert (res.output_dir / "model.safetensors").is_file()
    assert not (res.output_dir / "adapter_config.json").exists()
    old = load_model(base).model.state_dict()
    new = load_model(res.output_dir).model.state_dict()
    assert old.keys() == new.keys()
    for k, v in old.items():
        if "embed_tokens" in k or "lm_head" in k:
            assert torch.equal(v[:first_new], new[k][:first_new]), k
        else:
            assert torch.equal(v, new[k]), k
    # the head's new rows train (Llama 3's last ids are reserved specials the text never uses as input)
    head = "lm_head.weight" if matrices == 2 else "model.embed_tokens.weight"
    assert not torch.equal(old[head][first_new:], new[head][first_new:])


def test_new_rows_only_finishes_from_its_final_checkpoint(small_model, data_dir, tmp_path):
    """An uncommitted finished attempt: the trainable-token checkpoint becomes the merged model."""
    base = small_model("qwen3")
    first_new = load_model(base).model.get_input_embeddings().weight.shape[0] - 3000
    cfg = _cfg(base, data_dir, tmp_path / "fin", method="embeddings", max_steps=2, save_steps=2,
               embeddings={"new_rows_only": True, "base_vocab_size": first_new})
    res = train(cfg, "cpt")
    first = load_file(res.output_dir / "model.safetensors")
    for f in ("train_summary.json", "model.safetensors", "config.json"):
        (res.output_dir / f).unlink()
    again = train(cfg.model_copy(update={"resume": True}), "cpt")
    assert again.summary["resumed_from"].endswith("checkpoint-2")
    second = load_file(again.output_dir / "model.safetensors")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("var", ["ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"])
def test_new_rows_only_is_not_refused_under_sharded_launches(small_model, monkeypatch, var):
    """The rows are their own parameter (no gradient hook on the whole weight to lose to sharding)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from langadapt.train.methods import prepare_model

    monkeypatch.setenv(var, "true")   # what `accelerate launch` sets for an FSDP / DeepSpeed config
    model = AutoModelForCausalLM.from_pretrained(small_model("llama"))
    tok = AutoTokenizer.from_pretrained(small_model("llama"))
    cfg = TrainConfig.model_validate(dict(
        model="m", output_dir="o", data={"train": ["t"]}, method="embeddings",
        embeddings={"new_rows_only": True, "base_vocab_size": len(tok) - 5}))
    prepared = prepare_model(model, cfg, tok)
    trainable = {n: p.shape for n, p in prepared.model.named_parameters() if p.requires_grad}
    assert sorted(trainable.values()) == [(5, 16), (5, 16)]
    assert [p.shape for p in prepared.embedding_params] == [(5, 16), (5, 16)]


def test_lora_with_new_token_rows_and_own_lr(small_model, data_dir, tmp_path):
    from langadapt.models.merge import merge_adapter

    n_vocab = load_model(small_model("llama")).model.get_input_embeddings().weight.shape[0]
    first_new = n_vocab - 3000
    cfg = _cfg(small_model("llama"), data_dir, tmp_path / "le", method="lora", embedding_lr=1e-2,
               lora={"r": 2, "layers": "last:1", "train_embeddings": True}, max_steps=2,
               embeddings={"base_vocab_size": first_new})
    res = train(cfg, "cpt")
    # the adapter holds the new rows of the (untied) input embeddings and head, not whole matrices
    saved = load_file(res.output_dir / "adapter_model.safetensors")
    rows = {k: v.shape for k, v in saved.items() if "lora_" not in k}
    assert len(rows) == 2 and all(shape == (3000, 16) for shape in rows.values()), rows
    assert any("embed_tokens" in k for k in rows) and any("lm_head" in k for k in rows)
    assert not any("layers.0." in k and "lora_A" in k for k in saved)
    loaded = load_model(res.output_dir)
    assert loaded.is_peft
    # it merges like any adapter; the merged model changed the new rows only
    merge_adapter(res.output_dir, tmp_path / "merged")
    old = load_model(small_model("llama")).model.state_dict()
    merged = load_model(tmp_path / "merged").model.state_dict()
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        assert torch.equal(old[k][:first_new], merged[k][:first_new]), k
    assert not torch.equal(old["lm_head.weight"][first_new:], merged["lm_head.weight"][first_new:])


def test_lora_train_embeddings_all_saves_whole_matrices(small_model, data_dir, tmp_path):
    cfg = _cfg(small_model("llama"), data_dir, tmp_path / "la", method="lora",
               lora={"r": 2, "layers": "last:1", "train_embeddings": "all"}, max_steps=1)
    res = train(cfg, "cpt")
    sd = load_model(res.output_dir).model.state_dict()
    assert any("modules_to_save" in k and "embed_tokens" in k for k in sd)
    assert any("modules_to_save" in k and "lm_head" in k for k in sd)


def test_lora_train_embeddings_without_new_rows_says_what_to_set(small_model, data_dir, tmp_path):
    from langadapt.errors import ConfigError

    cfg = _cfg(small_model("qwen3"), data_dir, tmp_path / "ln", method="lora",
               lora={"r": 2, "train_embeddings": True}, max_steps=1)
    with pytest.raises(ConfigError, match=r"key 'embeddings.base_vocab_size': lora.train_embeddings needs"):
        train(cfg, "cpt")


def test_embedding_lr_gets_its_own_optimizer_group(small_model):
    from transformers import AutoModelForCausalLM, TrainingArguments

    from langadapt.train.trainer import LangadaptTrainer

    model = AutoModelForCausalLM.from_pretrained(small_model("llama"))
    emb = [model.get_input_embeddings().weight, model.get_output_embeddings().weight]
    args = TrainingArguments(output_dir="unused", learning_rate=1e-4, weight_decay=0.1, report_to="none")
    tr = LangadaptTrainer(model=model, args=args, embedding_params=emb, embedding_lr=1e-2)
    groups = tr.create_optimizer().param_groups
    assert groups[0]["lr"] == 1e-2 and groups[0]["weight_decay"] == 0.0 and len(groups[0]["params"]) == 2
    assert all(g["lr"] == 1e-4 for g in groups[1:])
    n = sum(p.numel() for g in groups for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())


def test_seq_len_beyond_the_models_positions_is_refused(small_model, data_dir, tmp_path):
    from langadapt.errors import ConfigError

    cfg = _cfg(small_model("qwen3"), data_dir, tmp_path / "long", method="full", seq_len=2049)
    with pytest.raises(ConfigError, match=r"key 'seq_len': seq_len 2049 is longer than the model's "
                                          r"max_position_embeddings 2048"):
        train(cfg, "cpt")
    assert not (tmp_path / "long" / "train_summary.json").exists()


def test_seq2seq_target_length_beyond_positions_is_refused(small_model, data_dir, tmp_path):
    from transformers import AutoConfig

    from langadapt.errors import ConfigError

    model = small_model("m2m100")
    limit = AutoConfig.from_pretrained(model).max_position_embeddings
    cfg = TrainConfig.model_validate(dict(
        model=str(model), output_dir=str(tmp_path / "o"), seq_len=32, max_steps=1,
        data={"train": [str(data_dir / "parallel" / "mn_en.tsv")]}, mt={"max_target_length": limit + 1}))
    with pytest.raises(ConfigError, match=rf"key 'mt.max_target_length': .* {limit}"):
        train(cfg, "mt")


def test_max_positions_reads_the_text_config_of_gemma3():
    from transformers import Gemma3Config, Gemma3TextConfig

    from langadapt.train.trainer import max_positions

    assert max_positions(Gemma3TextConfig(max_position_embeddings=4096)) == 4096
    assert max_positions(Gemma3Config(text_config={"max_position_embeddings": 8192})) == 8192
