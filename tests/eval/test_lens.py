"""Logit lens: last layer = model output, a hand-computed layer, base comparison, seq2seq decoder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from langadapt.errors import ConfigError
from langadapt.eval.lens import EMBED, lens_table, logit_lens
from langadapt.eval.lens_new_tokens import read_new_tokens
from langadapt.models.loading import load_model
from langadapt.report.plots_layers import plot_lens

SMALL = {"hidden": 32, "heads": 2, "kv_heads": 1, "intermediate": 64}  # fast tiny models

TEXTS = ["Монгол Улсын нийслэл Улаанбаатар хот юм.", "Сайн байна уу?"]
TARGETS = ["The capital of Mongolia is Ulaanbaatar.", "Hello?"]


def _by(rows, metric):
    return {r.extra["layer"]: r.value for r in rows if r.metric == metric}


@pytest.fixture(scope="module")
def qwen(tmp_path_factory, trimmed_tokenizer):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from langadapt.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("lens")
    base = make_tiny("qwen3", trimmed_tokenizer("qwen3"), root / "base", layers=6, **SMALL)
    torch.manual_seed(0)
    # init_lora_weights=False: random A and B, so the adapter changes the outputs
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                          LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"],
                                     init_lora_weights=False))
    peft.save_pretrained(root / "lora")
    return {"base": load_model(base), "lora": load_model(root / "lora")}


@pytest.mark.parametrize("arch", ["qwen3", "gemma3"])  # llama shares the qwen3 layout
def test_last_layer_reads_the_model_output(tiny_model, arch):
    loaded = load_model(tiny_model(arch))
    res = logit_lens(loaded, TEXTS, top_k=3)
    last = 1  # tiny_model has 2 layers
    assert _by(res.rows, "lens_kl_to_final")[last] == pytest.approx(0, abs=1e-5)
    assert _by(res.rows, "lens_cos_to_final")[last] == pytest.approx(1, abs=1e-5)
    assert _by(res.rows, "lens_top1_to_final")[last] == 1.0
    assert sorted(_by(res.rows, "lens_kl_to_final")) == [EMBED, 0, 1]
    assert _by(res.rows, "lens_kl_to_final")[EMBED] > 1e-4
    n_tokens = sum(len(loaded.tokenizer(t)["input_ids"]) for t in TEXTS)
    assert {r.n for r in res.rows} == {n_tokens}
    assert all(len(r.extra["top_tokens"]) == 3 for r in res.rows)


def test_layer_matches_hand_computation(qwen):
    loaded = qwen["base"]
    model, tok = loaded.model, loaded.tokenizer
    x = tok([TEXTS[0]], return_tensors="pt")
    with torch.no_grad():
        out = model(**x, output_hidden_states=True)
        layer0 = model.lm_head(model.model.norm(out.hidden_states[1]))  # output of layer 0
    ref, logp = F.log_softmax(out.logits[0], -1), F.log_softmax(layer0[0], -1)
    kl = (ref.exp() * (ref - logp)).sum(-1).mean().item()
    cos = F.cosine_similarity(ref.exp(), logp.exp(), dim=-1).mean().item()
    res = logit_lens(loaded, [TEXTS[0]])
    assert _by(res.rows, "lens_kl_to_final")[0] == pytest.approx(kl, rel=1e-4)
    assert _by(res.rows, "lens_cos_to_final")[0] == pytest.approx(cos, rel=1e-5)


def test_base_comparison(qwen):
    lora = qwen["lora"]
    vs_base = logit_lens(lora, TEXTS, base=qwen["base"], top_k=0).rows
    vs_off = logit_lens(lora, TEXTS, base="adapter-off", top_k=0).rows
    kl, kl_off = _by(vs_base, "lens_base_kl"), _by(vs_off, "lens_base_kl")
    assert sorted(kl) == [EMBED, *range(6)]
    for layer in kl:
        assert kl[layer] == pytest.approx(kl_off[layer], rel=1e-4, abs=1e-9)
    # LoRA does not touch the embeddings: identical there, different after the first adapted layer
    assert kl[EMBED] == pytest.approx(0, abs=1e-9)
    assert _by(vs_base, "lens_base_cos")[EMBED] == pytest.approx(1, abs=1e-6)
    assert min(kl[i] for i in range(6)) > 1e-5
    # the base against itself is identical at every layer
    same = _by(logit_lens(qwen["base"], TEXTS, base=qwen["base"], top_k=0).rows, "lens_base_kl")
    assert max(abs(v) for v in same.values()) < 1e-9


def test_adapter_off_also_switches_off_trained_token_rows(tmp_path, trimmed_tokenizer):
    """LoRA + trainable token rows (tied head): adapter-off is the base, read through the base's head."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from langadapt.models.tiny import make_tiny

    base = make_tiny("qwen3", trimmed_tokenizer("qwen3"), tmp_path / "base", layers=2, **SMALL)
    model = AutoModelForCausalLM.from_pretrained(base)
    vocab = model.get_output_embeddings().weight.shape[0]
    new = list(range(vocab - N_NEW, vocab))
    torch.manual_seed(0)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False,
                                            trainable_token_indices={"embed_tokens": new}))
    with torch.no_grad():  # the "trained" rows: far from the base's
        for name, p in peft.named_parameters():
            if "trainable_tokens_delta" in name:
                p.add_(torch.randn_like(p) * 2)
    peft.save_pretrained(tmp_path / "adapted")
    adapted, plain = load_model(tmp_path / "adapted"), load_model(base)
    off = logit_lens(adapted, TEXTS, base="adapter-off", top_k=0, new_tokens=new).rows
    sep = logit_lens(adapted, TEXTS, base=plain, top_k=0, new_tokens=new).rows
    for metric in ("lens_base_kl", "lens_base_new_token_mass"):
        a, b = _by(off, metric), _by(sep, metric)
        assert sorted(a) == [EMBED, 0, 1]
        for layer in a:
            assert a[layer] == pytest.approx(b[layer], rel=1e-4, abs=1e-7), (metric, layer)
    # and the trained rows really moved the adapted model's mass on them
    assert _by(off, "lens_new_token_mass")[1] != pytest.approx(_by(off, "lens_base_new_token_mass")[1])


def test_detail_grid(qwen):
    res = logit_lens(qwen["base"], TEXTS, detail_positions=5)
    assert res.detail["layers"] == [EMBED, *range(6)]
    assert [len(row) for row in res.detail["top1"]] == [5] * 7
    token, prob = res.detail["top1"][-1][0]
    assert isinstance(token, str) and 0 < prob <= 1


def test_seq2seq_decoder_side(tiny_model):
    loaded = load_model(tiny_model("m2m100"))
    res = logit_lens(loaded, TEXTS, targets=TARGETS, src_lang="khk_Cyrl", tgt_lang="eng_Latn")
    assert _by(res.rows, "lens_kl_to_final")[1] == pytest.approx(0, abs=1e-5)
    n_target = sum(len(loaded.tokenizer(t, add_special_tokens=False)["input_ids"]) + 2 for t in TARGETS)
    assert res.rows[0].n == n_target
    with pytest.raises(ConfigError, match="decoder side"):
        logit_lens(loaded, TEXTS)


@pytest.mark.parametrize("base, message", [
    ("adapter-off", "needs a PEFT adapter"),
    ("yesterday", "pass a loaded model"),
    ("m2m100", "tokenize differently"),
])
def test_base_errors(qwen, tiny_model, base, message):
    if base == "m2m100":
        base = load_model(tiny_model("m2m100"))
    with pytest.raises(ConfigError, match=message):
        logit_lens(qwen["base"], TEXTS, base=base)


# ---------------------------------------------------------------- mass on the new tokens
N_NEW = 10


def _with_head_bias(loaded, bias_new: float):
    """The model with a biased output head: `bias_new` on the last N_NEW rows (the "new" tokens)."""
    model = loaded.model
    old = model.get_output_embeddings()
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.zero_()
        head.bias[-N_NEW:] = bias_new
    model.set_output_embeddings(head)
    return loaded


@pytest.fixture(scope="module")
def biased(tiny_model):
    return {b: _with_head_bias(load_model(tiny_model("qwen3")), b) for b in (-30.0, 0.0, 30.0)}


@pytest.mark.parametrize("bias, low, high", [(30.0, 0.999, 1.0), (-30.0, 0.0, 1e-9)])
def test_new_token_mass_near_one_or_zero(biased, bias, low, high):
    loaded = biased[bias]
    vocab = loaded.model.get_output_embeddings().out_features
    for new in (vocab - N_NEW, list(range(vocab - N_NEW, vocab))):  # first new id, or listed ids
        mass = _by(logit_lens(loaded, TEXTS, top_k=0, new_tokens=new).rows, "lens_new_token_mass")
        assert sorted(mass) == [EMBED, 0, 1] and all(low <= m <= high for m in mass.values()), mass


def test_new_token_mass_matches_hand_computation_and_base(biased):
    adapted, base = biased[0.0], biased[-30.0]
    model, tok = adapted.model, adapted.tokenizer
    vocab = model.get_output_embeddings().out_features
    x = tok([TEXTS[0]], return_tensors="pt")
    with torch.no_grad():
        out = model(**x, output_hidden_states=True)
    probs = F.softmax(model.lm_head(model.model.norm(out.hidden_states[1]))[0], -1)  # layer 0
    hand = probs[:, vocab - N_NEW:].sum(-1).mean().item()
    rows = logit_lens(adapted, [TEXTS[0]], base=base, top_k=0, new_tokens=vocab - N_NEW).rows
    assert _by(rows, "lens_new_token_mass")[0] == pytest.approx(hand, rel=1e-4)
    assert 1e-4 < hand < 0.5
    assert all(m < 1e-9 for m in _by(rows, "lens_base_new_token_mass").values())
    assert "new_token_mass" in lens_table(rows) and "base_new_token_mass" in lens_table(rows)
    mass_only = [r for r in rows if "new_token_mass" in r.metric]
    assert plot_lens(mass_only, Path(tempfile.mkdtemp()) / "lens.png").stat().st_size > 0


def test_new_token_inputs_and_errors(tmp_path, biased):
    jsonl = tmp_path / "tok" / "new_tokens.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text('{"id": 7, "token": "x"}\n{"id": 9, "token": "y"}\n', encoding="utf-8")
    assert read_new_tokens("151669") == 151669
    assert read_new_tokens(str(jsonl)) == read_new_tokens(str(jsonl.parent)) == [7, 9]
    with pytest.raises(ConfigError, match="neither an integer"):
        read_new_tokens(str(tmp_path / "nothing"))
    loaded = biased[0.0]
    vocab = loaded.model.get_output_embeddings().out_features
    for bad in (vocab, [vocab + 3]):
        with pytest.raises(ConfigError, match="new token"):
            logit_lens(loaded, TEXTS, new_tokens=bad)
