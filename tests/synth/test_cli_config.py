"""`langadapt translate --backend openai --config FILE`: prompt template, prices, flags on top."""

from __future__ import annotations

import json

from langadapt.cli import main


def test_config_file_prompt_prices_and_flags(server, tmp_path, capsys, monkeypatch):
    secret = "sk-cli-0b5d2e"
    monkeypatch.setenv("MY_SERVER_KEY", secret)
    cfg = tmp_path / "server.yaml"
    cfg.write_text(
        "temperature: 0.2\n"
        "max_tokens: 64\n"
        "backoff_s: 0.01\n"
        "prompt:\n"
        "  system: 'Translate {src} into {tgt}.{glossary}'\n"
        "  user: 'Text: {text}'\n"
        "  few_shot: [[Good morning, Өглөөний мэнд]]\n"
        "  glossary: {steppe: тал}\n"
        "prices: {prompt_per_mtok: 1000, completion_per_mtok: 2000}\n", encoding="utf-8")
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("The steppe is wide {x}\n\nWolves live there\n", encoding="utf-8")
    server.script = ["429"]
    rc = main(["translate", "--backend", "openai", "--base-url", server.url, "--model", "m1",
               "--api-key-env", "MY_SERVER_KEY", "--config", str(cfg), "--concurrency", "1",
               "--src", "eng_Latn", "--tgt", "khk_Cyrl", "--json", str(inp), str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = {r["metric"]: r for r in map(json.loads, captured.out.splitlines())}
    body = server.log[-1]["body"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("m1", 0.2, 64)
    assert body["messages"][0] == {"role": "system",
                                   "content": "Translate English into Mongolian. Use these "
                                              "translations of terms: steppe → тал."}
    assert body["messages"][1:3] == [{"role": "user", "content": "Text: Good morning"},
                                     {"role": "assistant", "content": "Өглөөний мэнд"}]
    assert body["messages"][3]["content"] in ("Text: The steppe is wide ⟦0⟧", "Text: Wolves live there")
    ptok, ctok = rows["translate.prompt_tokens"]["value"], rows["translate.completion_tokens"]["value"]
    assert ptok > 0 and rows["translate.cost_usd"]["value"] == round((ptok * 1000 + ctok * 2000) / 1e6, 6)
    assert rows["translate.retries"]["value"] == 1 and rows["translate.requests"]["value"] == 3
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[0].endswith("{x}")
    assert secret not in captured.out + captured.err


def test_config_errors_name_the_file_and_key(server, tmp_path, capsys):
    cfg = tmp_path / "server.yaml"
    cfg.write_text("model: m\ntemprature: 0.2\n", encoding="utf-8")
    inp = tmp_path / "in.txt"
    inp.write_text("hello\n", encoding="utf-8")
    rc = main(["translate", "--backend", "openai", "--base-url", server.url, "--config", str(cfg),
               "--src", "eng_Latn", "--tgt", "khk_Cyrl", str(inp), str(tmp_path / "o.txt")])
    err = capsys.readouterr().err
    assert rc == 2 and f"{cfg}:2: key 'temprature': unknown key" in err
    rc = main(["translate", "--backend", "openai", "--src", "eng_Latn", "--tgt", "khk_Cyrl", str(inp),
               str(tmp_path / "o.txt")])
    assert rc == 2 and "key 'base_url': Field required" in capsys.readouterr().err
    assert server.log == []


def test_a_failed_request_exits_non_zero_naming_it(server, tmp_path, capsys):
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("The steppe is wide\n\nWolves live there\n", encoding="utf-8")
    server.always = {"Wolves": "500"}
    args = ["translate", "--backend", "openai", "--base-url", server.url, "--model", "m", "--max-retries",
            "1", "--src", "eng_Latn", "--tgt", "khk_Cyrl", str(inp), str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "1 of 2 requests failed after their retries (line 3: http_500 after 2 attempts)" in err
    assert not out.exists()
    server.always = {}
    assert main(args) == 0
    assert [r["text"] for r in server.log].count("The steppe is wide") == 1  # kept, not asked again
    assert out.read_text(encoding="utf-8").count("\n") == 3


def test_request_fields_for_other_servers(server, tmp_path):
    from langadapt.gen.options import ServerOptions
    from langadapt.synth.run import translate_file_openai

    inp = tmp_path / "in.txt"
    inp.write_text("The river is wide\n", encoding="utf-8")
    opts = ServerOptions(base_url=server.url, model="m", temperature=None,
                         max_tokens_param="max_completion_tokens",
                         extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    translate_file_openai(opts, inp, tmp_path / "out.txt", src="eng_Latn", tgt="khk_Cyrl")
    body = server.log[0]["body"]
    assert body["max_completion_tokens"] == 1024 and "max_tokens" not in body
    assert "temperature" not in body and body["chat_template_kwargs"] == {"enable_thinking": False}
