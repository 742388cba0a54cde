"""`langadapt eval layers --ablate`, the `eval.ablation` stage, and the bpb / flores / choice plug-ins."""

from __future__ import annotations

import json

import pytest
import torch

from langadapt.cli import main
from langadapt.eval.ablation import EvalInputs, evaluate, run_ablation
from langadapt.models.loading import load_model
from langadapt.stages import StageContext, get_stage

SMALL = {"hidden": 32, "heads": 2, "kv_heads": 1, "intermediate": 64}  # fast tiny models

QUESTIONS = [
    {"question": "Монгол Улсын нийслэл аль хот вэ?", "choices": {"A": "Улаанбаатар", "B": "Дархан"},
     "answer": "A"},
    {"question": "Нэг дээр нэгийг нэмбэл хэд вэ?", "choices": {"A": "гурав", "B": "хоёр"}, "answer": "B"},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, trimmed_tokenizer, data_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from langadapt.models.tiny import make_tiny

    root = tmp_path_factory.mktemp("abl_cli")
    base = make_tiny("qwen3", trimmed_tokenizer("qwen3"), root / "base", layers=3, **SMALL)
    torch.manual_seed(0)
    # init_lora_weights=False: random A and B, so the adapter changes the outputs
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                          LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                     init_lora_weights=False))
    peft.save_pretrained(root / "lora")
    mmeval = root / "mm.jsonl"
    mmeval.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS))
    return {"base": base, "lora": root / "lora", "text": data_dir / "flores" / "khk_Cyrl.dev.txt",
            "mmeval": mmeval}


def test_cli_rows_match_base_and_adapter(setup, tmp_path, capsys):
    args = ["eval", "layers", "--model", str(setup["lora"]), "--text", str(setup["text"]),
            "--limit", "2", "--max-length", "48", "--ablate", "early", "all", "--metrics", "loss",
            "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows = [r for r in out if r["metric"] == "mean_nll"]
    assert [r["variant"] for r in rows] == ["lora-off:none", "lora-off:early", "lora-off:all"]
    deltas = {r["variant"]: r for r in out if r["metric"] == "mean_nll.delta"}
    assert set(deltas) == {"lora-off:early", "lora-off:all"}
    assert deltas["lora-off:all"]["value"] == pytest.approx(rows[2]["value"] - rows[0]["value"])
    assert 0 <= deltas["lora-off:all"]["extra"]["p_value"] <= 1
    assert all("items" not in r["extra"] for r in out)
    assert rows[1]["extra"]["disabled_layers"] == {"decoder": [0]}
    inputs = EvalInputs(text=str(setup["text"]), limit=2, max_length=48)
    base = evaluate(load_model(setup["base"]), ["loss"], inputs)[0].value
    adapted = evaluate(load_model(setup["lora"]), ["loss"], inputs)[0].value
    assert rows[2]["value"] == pytest.approx(base, abs=1e-9)
    assert rows[0]["value"] == pytest.approx(adapted, abs=1e-9)
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| lora-off:all | decoder 0-2 |" in (tmp_path / "ablation.md").read_text()


def test_cli_errors_exit_2(setup, capsys):
    assert main(["eval", "layers", "--model", str(setup["base"]), "--text", str(setup["text"]),
                 "--ablate", "early"]) == 2
    assert "no adapter to switch off" in capsys.readouterr().err
    assert main(["eval", "layers", "--model", str(setup["lora"]), "--ablate", "early",
                 "--metrics", "loss"]) == 2
    assert "needs --text" in capsys.readouterr().err


def test_plugged_metrics_all_layers_off_is_base(setup, tmp_path):
    """bpb, FLORES and choice through the ablation switch: `all` scores exactly as the base."""
    inputs = EvalInputs(text=str(setup["text"]), src_lang="khk_Cyrl", tgt_lang="eng_Latn", limit=2,
                        max_length=48, task="mmeval_khk",
                        options={"generation": {"max_new_tokens": 4}, "bpb": {"resamples": 50},
                                 "flores": {"resamples": 50},
                                 "choice": {"data": str(setup["mmeval"]), "resamples": 50}})
    metrics = ["bpb", "flores", "choice"]
    rows = run_ablation(load_model(setup["lora"]), ["all"], inputs, metrics=metrics, out_dir=tmp_path)
    base = {r.metric: r.value for r in evaluate(load_model(setup["base"]), metrics, inputs)}
    off = {r.metric: r.value for r in rows if r.variant == "lora-off:all"}
    assert {"bpb", "bleu", "chrf++", "acc", "acc_bytes"} <= set(off)
    for metric, value in off.items():
        assert value == pytest.approx(base[metric], abs=1e-9), metric
    assert list((tmp_path / "variants" / "all" / "flores").glob("hyp.*.txt"))


def test_stage(setup, tmp_path):
    stage = get_stage("eval.ablation")
    opts = stage.Options(model=str(setup["lora"]), ablate=["late"],
                         inputs={"text": str(setup["text"]), "limit": 2, "max_length": 48})
    ctx = StageContext(stage_id="abl", out_dir=tmp_path / "out", run_dir=tmp_path, seed=3, variant="lora")
    rows = stage().run(opts, ctx)
    assert [r.variant for r in rows if r.metric == "mean_nll"] == ["lora+lora-off:none",
                                                                   "lora+lora-off:late"]
    assert (tmp_path / "out" / "ablation.md").exists()
    assert (tmp_path / "cache" / "abl" / "variants" / "late.jsonl").exists()
    with pytest.raises(Exception, match="extra_forbidden|unknown|Extra"):
        stage.Options(model="x", ablate=["late"], colour="red")
