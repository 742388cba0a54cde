"""`eval speed --backend llamacpp`: a GGUF file measured in the llama.cpp runtime.

The real-file tests use the cached SmolLM2 GGUF (skipped naming `langadapt model fetch`
when absent) with 2 prompts x 8 new tokens on one thread, so they take a few seconds; an
f32 export of a tiny model checks that llama.cpp writes what HF generate writes.
"""

from __future__ import annotations

import json

import pytest

from langadapt.errors import ConfigError
from langadapt.eval.speed import SpeedOptions, evaluate_speed, read_prompts


@pytest.fixture(scope="module")
def smol_gguf():
    from real_gguf import cached_gguf

    from langadapt.gen.llamacpp import runtime_missing

    if (why := runtime_missing()) is not None:
        pytest.skip(why)
    return cached_gguf("smollm2-135m-instruct")


@pytest.fixture
def prompts_file(data_dir):
    return data_dir / "flores" / "khk_Cyrl.dev.txt"


def test_real_gguf_rows_records_and_greedy_text(smol_gguf, prompts_file):
    from langadapt.eval.speed_llamacpp import new_text
    from langadapt.gen.llamacpp import LlamaCpp

    opts = SpeedOptions(model=str(smol_gguf), text=[str(prompts_file)], backend="llamacpp", prompts=2,
                        max_new_tokens=8, warmup=1, threads=1, resamples=20)
    res = evaluate_speed(opts)
    by = {r.metric: r for r in res.rows}
    extra = res.rows[0].extra
    assert extra["tokens"] == 16 and extra["bytes"] == sum(r["bytes"] for r in res.records) > 0
    assert by["speed.bytes_per_token"].value == pytest.approx(extra["bytes"] / 16)
    assert by["speed.tokens_per_second"].value == pytest.approx(16 / extra["seconds"])
    assert by["speed.useful_bytes_per_second"].value <= by["speed.bytes_per_second"].value
    sig = res.rows[0].signature["options"]
    assert (sig["backend"], sig["threads"], sig["tokenizer"]) == ("llamacpp", 1, "gguf")
    assert sig["llamacpp_version"] and sig["vocab"] == 49152
    for r in res.records:
        assert r["seconds"] >= r["prefill_seconds"] + r["decode_seconds"] > 0
        assert {"lang_share", "repeated_trigrams", "pass"} <= set(r)
    # the timed text is llama.cpp's greedy continuation: each new token is the argmax after the last
    prompt = read_prompts(opts.text, opts)[0]
    with LlamaCpp(smol_gguf, n_ctx=64, n_threads=1) as llm:
        ids = llm.tokenize(prompt)
        new = llm.generate(ids, max_new_tokens=8, stop_at_eog=False).ids
        logits = llm.logits(ids + new)
        assert ids[0] == llm.bos_id or not llm.add_bos
        assert [int(logits[len(ids) - 1 + i].argmax()) for i in range(8)] == new
        assert res.records[0]["text"] == new_text(llm, ids, new)


@pytest.mark.parametrize("update, key", [({"batch_size": 2}, "batch_size"), ({"device": "cuda"}, "device"),
                                         ({"model": "runs/model-folder"}, "model")])
def test_what_llamacpp_cannot_do_is_a_config_error(tmp_path, prompts_file, update, key):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    opts = SpeedOptions(**{"model": str(gguf), "text": [str(prompts_file)], "backend": "llamacpp",
                           "prompts": 1, **update})
    with pytest.raises(ConfigError) as e:
        evaluate_speed(opts)
    assert e.value.key == key


def test_cli_backend_flag(smol_gguf, prompts_file, tmp_path, capsys):
    from langadapt.cli import main

    gens = tmp_path / "g.jsonl"
    assert main(["eval", "speed", "--backend", "llamacpp", "--model", str(smol_gguf), "--text",
                 str(prompts_file), "--prompts", "1", "--max-new-tokens", "4", "--warmup", "0",
                 "--threads", "1", "--generations", str(gens), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[0]["signature"]["options"]["backend"] == "llamacpp" and rows[0]["extra"]["tokens"] == 4
    assert json.loads(gens.read_text(encoding="utf-8"))["model"] == str(smol_gguf)
    assert main(["eval", "speed", "--backend", "llamacpp", "--model", str(smol_gguf), "--text",
                 str(prompts_file), "--batch-size", "2"]) == 2
    assert "batch_size" in capsys.readouterr().err


def test_tiny_export_in_llamacpp_writes_what_hf_generate_writes(tiny_model, tmp_path, prompts_file):
    """An f32 export of a tiny model: llama.cpp's greedy text equals HF generate's, token for token."""
    from langadapt.gen.llamacpp import runtime_missing

    export_gguf = pytest.importorskip("langadapt.models.gguf_export").export_gguf
    if (why := runtime_missing()) is not None:
        pytest.skip(why)
    folder = tiny_model("llama")
    gguf = export_gguf(folder, tmp_path / "tiny.gguf", type="f32", verify=False, modelfile=False)
    common = dict(text=[str(prompts_file)], prompts=2, max_new_tokens=8, warmup=0, resamples=0, threads=1)
    cpp = evaluate_speed(SpeedOptions(model=str(gguf), backend="llamacpp", **common))
    hf = evaluate_speed(SpeedOptions(model=str(folder), device="cpu", dtype="float32", **common))
    assert [r["text"] for r in cpp.records] == [r["text"] for r in hf.records]
    assert [r["tokens"] for r in cpp.records] == [8, 8] and all(r["text"] for r in cpp.records)
    by = {(r.signature["options"]["backend"], r.metric): r.value for r in cpp.rows + hf.rows}
    assert by[("llamacpp", "speed.bytes_per_token")] == by[("hf", "speed.bytes_per_token")]
