"""LoRA layer ablation: exact base / adapted outputs, restore, files untouched, Table 1 rows."""

from __future__ import annotations

import hashlib

import pytest
import torch

from langadapt.errors import ConfigError
from langadapt.eval import ablation
from langadapt.eval.ablation import (
    EvalInputs,
    ablation_table,
    adapter_modules,
    lora_switched,
    register_evaluator,
    run_ablation,
    selection_for,
)
from langadapt.models.loading import load_model
from langadapt.runs import ResultRow

SMALL = {"hidden": 32, "heads": 2, "kv_heads": 1, "intermediate": 64}  # fast tiny models

TEXT = "Монгол Улсын нийслэл Улаанбаатар хот юм."


def _make_adapter(base_dir, out, targets, seed=0):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    cfg = AutoConfig.from_pretrained(base_dir)
    auto = AutoModelForSeq2SeqLM if cfg.is_encoder_decoder else AutoModelForCausalLM
    torch.manual_seed(seed)
    # init_lora_weights=False: random A and B, so the adapter changes the outputs
    model = get_peft_model(auto.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False))
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def qwen(tmp_path_factory, trimmed_tokenizer):
    from langadapt.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("abl")
    base = make_tiny("qwen3", trimmed_tokenizer("qwen3"), root / "base", layers=6, **SMALL)
    adapter = _make_adapter(base, root / "lora", ["q_proj", "v_proj", "down_proj"])
    return {"base": load_model(base), "lora": load_model(adapter), "adapter_dir": adapter}


@pytest.fixture(scope="module")
def m2m(tmp_path_factory, trimmed_tokenizer):
    from langadapt.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("abl_m2m")
    base = make_tiny("m2m100", trimmed_tokenizer("qwen3"), root / "base", layers=3, **SMALL)
    adapter = _make_adapter(base, root / "lora", ["q_proj", "v_proj", "fc2"])
    return {"base": load_model(base), "lora": load_model(adapter)}


def _logits(loaded, seq2seq=False):
    x = loaded.tokenizer([TEXT], return_tensors="pt")
    if seq2seq:
        x["decoder_input_ids"] = x["input_ids"][:, :5]
    with torch.no_grad():
        return loaded.model(**x).logits


def _tree_hash(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_adapter_changes_outputs(qwen):
    # guards the other tests: if the adapter were a no-op, "equals base" would prove nothing
    assert not torch.equal(_logits(qwen["lora"]), _logits(qwen["base"]))


@pytest.mark.parametrize("spec, stack, expect", [
    ("all", "decoder", "base"),
    ("0-5", "decoder", "base"),
    ("none", "decoder", "adapted"),
])
def test_switch_gives_exact_outputs(qwen, spec, stack, expect):
    lora = qwen["lora"]
    want = _logits(qwen["base"]) if expect == "base" else _logits(lora)
    with lora_switched(lora.model, selection_for(lora.model, spec, stack)):
        got = _logits(lora)
    assert torch.equal(got, want)


def test_seq2seq_both_stacks_all_is_base(m2m):
    lora = m2m["lora"]
    with lora_switched(lora.model, selection_for(lora.model, "all", "both")):
        got = _logits(lora, seq2seq=True)
    assert torch.equal(got, _logits(m2m["base"], seq2seq=True))
    # switching only the decoder leaves the encoder's LoRA on: not the base any more
    with lora_switched(lora.model, selection_for(lora.model, "all", "decoder")):
        assert not torch.equal(_logits(lora, seq2seq=True), _logits(m2m["base"], seq2seq=True))


@pytest.mark.parametrize("spec, layers", [
    ("early", [0, 1]), ("middle", [2, 3]), ("late", [4, 5]), ("1-3", [1, 2, 3]), ("5", [5]),
    ("none", []),
])
def test_only_selected_layers_switch(qwen, spec, layers):
    model = qwen["lora"].model
    with lora_switched(model, selection_for(model, spec)) as n:
        off = sorted({int(name.split(".")[1]) for name, m in adapter_modules(model, "decoder", range(6))
                      if m.disable_adapters})
    assert off == layers
    assert n == 3 * len(layers)  # q_proj, v_proj, down_proj per layer


def test_restored_after_exit_and_on_exception(qwen):
    lora = qwen["lora"]
    before = _logits(lora)
    grads = [p.requires_grad for p in lora.model.parameters()]
    with pytest.raises(RuntimeError), lora_switched(lora.model, {"decoder": [0, 1, 2]}):
        assert not torch.equal(_logits(lora), before)
        raise RuntimeError("evaluator failed")
    assert torch.equal(_logits(lora), before)
    assert [p.requires_grad for p in lora.model.parameters()] == grads
    assert not any(m.disable_adapters for _, m in adapter_modules(lora.model, "decoder", range(6)))


def test_scaling(qwen):
    lora = qwen["lora"]
    before = _logits(lora)
    with lora_switched(lora.model, {"decoder": list(range(6))}, scale=1.0):
        assert torch.equal(_logits(lora), before)
    with lora_switched(lora.model, {"decoder": list(range(6))}, scale=0.5):
        half = _logits(lora)
    assert not torch.equal(half, before) and not torch.equal(half, _logits(qwen["base"]))
    assert torch.equal(_logits(lora), before)


@pytest.mark.parametrize("call, message", [
    (lambda q: lora_switched(q["base"].model, {"decoder": [0]}).__enter__(), "no adapter"),
    (lambda q: selection_for(q["lora"].model, "early", "encoder"), "no encoder stack"),
    (lambda q: selection_for(q["lora"].model, "early", "sideways"), "unknown stack"),
    (lambda q: selection_for(q["lora"].model, "7-9"), "outside 0..5"),
    (lambda q: ablation.evaluate(q["lora"], ["nonsense"], EvalInputs()), "unknown ablation metric"),
    (lambda q: ablation.evaluate(q["lora"], ["loss"], EvalInputs()), "needs --text"),
])
def test_errors(qwen, call, message):
    with pytest.raises(ConfigError, match=message):
        call(qwen)


def test_run_ablation_table_files_and_resume(qwen, data_dir, tmp_path):
    lora, adapter_dir = qwen["lora"], qwen["adapter_dir"]
    before = _tree_hash(adapter_dir)
    calls = []

    @register_evaluator("test_count")
    def count(loaded, inputs, out_dir):
        calls.append(1)
        return [r.model_copy(update={"metric": "counted"}) for r in ablation.mean_nll(loaded, inputs)]

    inputs = EvalInputs(text=str(data_dir / "flores" / "khk_Cyrl.dev.txt"), limit=2, max_length=48)
    rows = run_ablation(lora, ["early", "late", "all"], inputs, metrics=["loss", "test_count"],
                        out_dir=tmp_path)
    assert [r.variant for r in rows if r.metric == "mean_nll"][:4] == [
        "lora-off:none", "lora-off:early", "lora-off:late", "lora-off:all"]
    by = {r.variant: r.value for r in rows if r.metric == "mean_nll"}
    base_nll = ablation.mean_nll(qwen["base"], inputs)[0].value
    adapted_nll = ablation.mean_nll(lora, inputs)[0].value
    assert by["lora-off:all"] == pytest.approx(base_nll, abs=1e-9)
    assert by["lora-off:none"] == pytest.approx(adapted_nll, abs=1e-9)
    assert by["lora-off:early"] != by["lora-off:none"]
    assert _tree_hash(adapter_dir) == before  # the adapter on disk is untouched
    table = (tmp_path / "ablation.md").read_text()
    assert table == ablation_table(rows)
    assert "| lora-off:early | decoder 0-1 |" in table
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == len(rows)
    assert len(calls) == 4
    again = run_ablation(lora, ["early", "late", "all"], inputs, metrics=["loss", "test_count"],
                         out_dir=tmp_path)
    assert len(calls) == 4  # every variant was already done: nothing re-evaluated
    assert [r.value for r in again] == [r.value for r in rows]
    ablation.EVALUATORS.remove("test_count")


@pytest.mark.parametrize("idx, text", [([0, 1, 2, 5], "0-2,5"), ([3], "3"), ([], "")])
def test_layer_ranges(idx, text):
    assert ablation._ranges(idx) == text


def test_seq2seq_loss_by_stack(m2m, data_dir):
    flores = data_dir / "flores"
    inputs = EvalInputs(text=str(flores / "khk_Cyrl.dev.txt"), targets=str(flores / "eng_Latn.dev.txt"),
                        src_lang="khk_Cyrl", tgt_lang="eng_Latn", limit=2, max_length=24)
    base = ablation.mean_nll(m2m["base"], inputs)[0].value
    got = {stack: {r.variant: r.value for r in run_ablation(m2m["lora"], ["all"], inputs,
                                                           metrics=["loss"], stack=stack)
                   if r.metric == "mean_nll"}
           for stack in ("both", "encoder")}
    assert got["both"]["lora-off:all"] == pytest.approx(base, abs=1e-9)
    assert got["encoder"]["lora-off:none"] == got["both"]["lora-off:none"]
    assert got["encoder"]["lora-off:all"] not in (base, got["both"]["lora-off:none"])


def _items_row(spec, items, metric="mean_nll"):
    return ResultRow(metric=metric, value=0.0, variant=f"lora-off:{spec}",
                     extra={"ablate": spec, "disabled_layers": {}, "items": items})


@pytest.mark.parametrize("variant_items, delta, ci, p", [
    ([[2, 1], [3, 1], [4, 1]], 1.0, [1.0, 1.0], 2 / 1001),    # every item 1 nat worse: the least p
    ([[1, 1], [2, 1], [3, 1]], 0.0, [0.0, 0.0], 1.0),         # identical to the full adapter
    ([[0, 1], [1, 1], [2, 1]], -1.0, [-1.0, -1.0], 2 / 1001),  # every item 1 nat better
])
def test_paired_deltas(variant_items, delta, ci, p):
    none = _items_row("none", [[1, 1], [2, 1], [3, 1]])
    rows = [none, _items_row("early", variant_items), _items_row("early", [[1, 1]], metric="other")]
    (got,) = ablation.paired_deltas(rows)
    assert got.metric == "mean_nll.delta" and got.variant == "lora-off:early"
    assert got.value == pytest.approx(delta)
    assert got.ci == pytest.approx(ci)
    assert got.extra["p_value"] == pytest.approx(p)
    assert got.extra["test"] == "paired_bootstrap" and got.extra["resamples"] == 1000
    assert "items" not in got.extra
