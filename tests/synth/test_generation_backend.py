"""`generation.backend: openai`: the stages that generate (translate, eval.flores) reach a server."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from langadapt.generate import GenerationOptions, output_options
from langadapt.stages import StageContext, get_stage


def _ctx(tmp_path, stage_id):
    out = tmp_path / "run" / "stages" / f".{stage_id}.tmp"
    out.mkdir(parents=True)
    return StageContext(stage_id=stage_id, out_dir=out, run_dir=tmp_path / "run", seed=3, variant="v1")


def _generation(server):
    return {"backend": "openai", "server": {"base_url": server.url, "backoff_s": 0.01, "timeout_s": 5}}


def test_translate_stage_through_a_server(server, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Good morning\n\nThe river is wide {x}\nGood morning\n", encoding="utf-8")
    stage = get_stage("translate")
    opts = stage.Options(model="served-model", input=str(src), src="eng_Latn", tgt="khk_Cyrl",
                         generation=_generation(server))
    ctx = _ctx(tmp_path, "mt")
    rows = {r.metric: r for r in stage().run(opts, ctx)}
    lines = (ctx.out_dir / "in.txt").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 5 and lines[1] == "" and lines[0] == lines[3] and lines[2].endswith("{x}")
    assert rows["translate.new"].value == 2 and rows["translate.wrong_language"].value == 0
    assert {r["body"]["model"] for r in server.log} == {"served-model"} and len(server.log) == 2
    assert rows["translate.new"].signature["options"]["gen"]["backend"] == "openai"


def test_flores_stage_generates_through_a_server(server, data_dir, tmp_path):
    server.script = ["500", "length"]  # retried, and a cut-off hypothesis is still a hypothesis
    stage = get_stage("eval.flores")
    opts = stage.Options(model="served-model", src="eng_Latn", tgt="khk_Cyrl", metrics=["chrf++"],
                         resamples=20, limit=12, generation=_generation(server))
    rows = stage().run(opts, _ctx(tmp_path, "flores"))
    assert [r.metric for r in rows] == ["chrf++"] and rows[0].n == 12
    assert len(server.log) == 13
    assert rows[0].model == "served-model" and '"backend": "openai"' in rows[0].to_json()


def test_openai_generation_needs_a_server():
    with pytest.raises(ValidationError, match="needs 'server'"):
        GenerationOptions(backend="openai")
    sig = output_options(GenerationOptions(backend="openai", server={"base_url": "http://h/v1",
                                                                     "api_key_env": "K"}))
    assert "base_url" not in json.dumps(sig) and "api_key_env" not in json.dumps(sig)


def test_eval_flores_cli_generates_through_a_server(server, data_dir, tmp_path, capsys):
    from langadapt.cli import main

    out = tmp_path / "flores"
    rc = main(["eval", "flores", "--model", "served-model", "--backend", "openai", "--base-url", server.url,
               "--concurrency", "2", "--max-retries", "1", "--src", "eng_Latn", "--tgt", "khk_Cyrl",
               "--limit", "4", "--metrics", "chrf++", "--resamples", "20", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = [json.loads(x) for x in captured.out.splitlines()]
    assert [r["metric"] for r in rows] == ["chrf++"] and rows[0]["n"] == 4
    assert len(server.log) == 4 and {r["body"]["model"] for r in server.log} == {"served-model"}
    assert rows[0]["extra"]["generation"]["backend"] == "openai"


class _Stop(Exception):
    pass


def test_translate_file_through_a_server_resumes_from_the_one_journal(server, tmp_path):
    from langadapt.errors import ConfigError
    from langadapt.resume import journal_path
    from langadapt.translate import translate_file

    src = tmp_path / "in.txt"
    src.write_text("Good morning\nThe river is wide\nWe planted three trees\nOpen the window\n",
                   encoding="utf-8")
    gen = GenerationOptions(**_generation(server))
    whole, out = tmp_path / "whole.txt", tmp_path / "out.txt"
    translate_file("served-model", src, whole, src="eng_Latn", tgt="khk_Cyrl", gen=gen)

    def stop(_k):
        raise _Stop

    with pytest.raises(_Stop):
        translate_file("served-model", src, out, src="eng_Latn", tgt="khk_Cyrl", gen=gen, flush_every=2,
                       on_flush=stop)
    assert not out.exists() and journal_path(out).read_text(encoding="utf-8").count("\n") == 3
    hotter = GenerationOptions(**{**_generation(server), "server": {**_generation(server)["server"],
                                                                    "temperature": 0.9}})
    with pytest.raises(ConfigError, match="--restart"):
        translate_file("served-model", src, out, src="eng_Latn", tgt="khk_Cyrl", gen=hotter)
    asked = len(server.log)
    rows = {r.metric: r.value for r in translate_file("served-model", src, out, src="eng_Latn",
                                                      tgt="khk_Cyrl", gen=gen)}
    assert (rows["translate.resumed"], rows["translate.new"]) == (2, 2) and len(server.log) - asked == 2
    assert out.read_bytes() == whole.read_bytes() and not journal_path(out).parent.exists()
