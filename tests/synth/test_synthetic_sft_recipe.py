"""recipes/synthetic-sft.yaml end to end: translate through the test's server, filter, SFT a tiny model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from langadapt.cli import main
from langadapt.stages import get_stage
from langadapt.train.chat import iter_conversations

REPO = Path(__file__).resolve().parents[2]


def test_recipe_translates_filters_and_trains(server, tokenizers_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the recipe names its fixture relative to the repository
    server.always = {"haiku": "refusal", "leap year": "length"}
    out = tmp_path / "run"
    rc = main(["run", "recipes/synthetic-sft.yaml", f"output_dir={out}",
               f"synth.with.server.base_url={server.url}", "synth.with.server.model=test-model",
               "synth.with.server.concurrency=4", "synth.with.server.backoff_s=0.01"])
    assert rc == 0, capsys.readouterr().err
    synth = out / "stages" / "synth"
    stats = json.loads((synth / "stats.json").read_text())
    assert stats["translate.kept"] == 28 and stats["rejected_by_reason"] == {"refusal": 1, "truncated": 1}
    with gzip.open(synth / "rejected" / "refusal.jsonl.gz", "rt", encoding="utf-8") as f:
        assert json.loads(f.readline())["source"]["id"] == 26
    convs = list(iter_conversations([str(synth / "instructions.khk_Cyrl.jsonl")]))
    assert len(convs) == 28 and all(m["role"] in ("user", "assistant") for c in convs for m in c)
    system = server.log[0]["body"]["messages"][0]["content"]
    assert "ger → гэр" in system and "Mongolian" in system  # the recipe's glossary reached the prompt
    assert server.log[0]["body"]["seed"] == 0  # the recipe's seed
    sft = out / "stages" / "sft"
    assert (sft / "config.json").is_file() or (sft / "adapter_config.json").is_file()
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert any(r["metric"] == "translate.completion_tokens" and r["value"] > 0 for r in results)

    n = len(server.log)  # a second run reuses every finished stage: no request at all
    assert main(["run", "recipes/synthetic-sft.yaml", f"output_dir={out}",
                 f"synth.with.server.base_url={server.url}", "synth.with.server.model=test-model",
                 "synth.with.server.concurrency=4", "synth.with.server.backoff_s=0.01"]) == 0
    assert len(server.log) == n


def test_stage_options_are_strict():
    import pytest
    from pydantic import ValidationError

    opts = get_stage("translate.openai").Options
    with pytest.raises(ValidationError):
        opts(input="a.jsonl", src="eng_Latn", tgt="khk_Cyrl", server={"base_url": "u", "model": "m",
                                                                      "api_key": "sk-no"})
    with pytest.raises(ValidationError):
        opts(input="a.jsonl", src="eng_Latn", tgt="khk_Cyrl", output_name="../x",
             server={"base_url": "u", "model": "m"})
