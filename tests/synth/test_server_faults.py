"""The server-fault table: a hostile or broken OpenAI-compatible server can neither pull requests
elsewhere, nor hold one open past its timeout, nor get a malformed answer stored."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from fake_openai_server import FakeServer

from langadapt.cli import main
from langadapt.errors import ConfigError
from langadapt.synth.run import GenerationFailed, journal_path, translate_file_openai

TEXTS = ["The river is long.", "Open the window, please.", "We planted three trees."]


@pytest.fixture()
def texts(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("".join(t + "\n" for t in TEXTS), encoding="utf-8")
    return path


def _translate(opts, inp, out):
    return translate_file_openai(opts, inp, out, src="eng_Latn", tgt="khk_Cyrl")


def _journal_lines(out):
    """The stored answers (the journal's first line is its run-key line, not an answer)."""
    path = journal_path(out)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]] \
        if path.exists() else []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_off_the_configured_origin_is_refused_in_one_line_and_nothing_is_sent_there(
        server, fast_options, texts, tmp_path, status):
    with FakeServer() as elsewhere:
        server.redirect_to = elsewhere.url
        server.always = {"river": f"redirect_{status}"}
        out = tmp_path / "out.txt"
        with pytest.raises(ConfigError) as refused:
            _translate(fast_options(max_retries=0), texts, out)
        message = str(refused.value)
        assert f"redirected a request to {elsewhere.url}/chat/completions (HTTP {status})" in message
        assert "never sent off the configured origin" in message and "\n" not in message
        assert elsewhere.hits == 0 and not out.exists()


def test_a_redirect_off_origin_exits_2_with_one_line_from_the_cli(server, texts, tmp_path, capsys):
    with FakeServer() as elsewhere:
        server.redirect_to = elsewhere.url
        server.always = {"": "redirect_307"}
        rc = main(["translate", str(texts), str(tmp_path / "out.txt"), "--src", "eng_Latn", "--tgt",
                   "khk_Cyrl", "--backend", "openai", "--model", "m", "--base-url", server.url,
                   "--max-retries", "0"])
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert rc == 2 and len(errors) == 1 and elsewhere.url in errors[0]
        assert elsewhere.hits == 0


def test_the_timeout_bounds_each_whole_request_against_a_dripping_server(server, fast_options, texts,
                                                                         tmp_path):
    server.always = {"river": "drip"}  # 10 bytes at 0.5 s: each attempt would take 5 s, timeout 1 s
    start = time.monotonic()
    with pytest.raises(GenerationFailed, match=r"line 1: timeout after 2 attempts"):
        _translate(fast_options(timeout_s=1.0, max_retries=1), texts, tmp_path / "out.txt")
    assert time.monotonic() - start < 1.0 * 2 + 1.5  # timeout x attempts, plus slack


@pytest.mark.parametrize("fault, where", [
    ("content_number", "choices.0.message.content"), ("content_list", "choices.0.message.content"),
    ("content_null", "choices.0.message.content"), ("no_message", "choices.0.message"),
    ("html", "not JSON"), ("usage_strings", "usage.prompt_tokens")])
def test_a_malformed_answer_is_retried_then_reported_by_id_and_never_journalled(
        server, fast_options, texts, tmp_path, fault, where):
    server.always = {"window": fault}
    out = tmp_path / "out.txt"
    with pytest.raises(GenerationFailed, match=rf"line 2: malformed answer \({where}.*\) after 2 attempts"):
        _translate(fast_options(max_retries=1), texts, out)
    assert [r["fault"] for r in server.log].count(fault) == 2
    assert not out.exists()
    stored = _journal_lines(out)
    assert len(stored) == 2 and all(isinstance(r["text"], str) and isinstance(r["prompt_tokens"], int)
                                    for r in stored)
    server.always = {}
    rows = {r.metric: r for r in _translate(fast_options(), texts, out)}
    assert (rows["translate.resumed"].value, rows["translate.new"].value) == (2, 1)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_a_bad_record_left_in_the_journal_by_an_older_version_is_asked_again(server, fast_options, texts,
                                                                            tmp_path):
    server.always = {"window": "500"}
    out = tmp_path / "out.txt"
    with pytest.raises(GenerationFailed):
        _translate(fast_options(max_retries=0), texts, out)
    first, second = _journal_lines(out)
    first["text"], second["prompt_tokens"] = 42, "7"  # what unchecked answers used to store
    journal_path(out).write_text("".join(json.dumps(r) + "\n" for r in (first, second))
                                 + "not json at all\n", encoding="utf-8")
    server.always = {}
    asked = len(server.log)
    rows = {r.metric: r for r in _translate(fast_options(), texts, out)}
    assert (rows["translate.resumed"].value, rows["translate.new"].value) == (0, 3)
    assert len(server.log) - asked == 3 and len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_an_answer_echoing_the_api_key_is_redacted_in_every_file(server, fast_options, texts, tmp_path,
                                                                 monkeypatch):
    secret = "sk-echo-5d1e9a7c3b"
    monkeypatch.setenv("LANGADAPT_TEST_KEY", secret)
    server.always = {"river": "echo_key", "window": "500"}
    opts = fast_options(api_key_env="LANGADAPT_TEST_KEY", max_retries=0)
    out = tmp_path / "out.txt"
    with pytest.raises(GenerationFailed):
        _translate(opts, texts, out)  # the journal keeps the echoing answer
    assert any("***" in r["text"] for r in _journal_lines(out))
    server.always = {"river": "echo_key"}
    _translate(opts, texts, out)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert out in files
    for p in files:
        data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        assert secret.encode() not in data, p


@pytest.mark.parametrize("url, says", [("http://127.0.0.1:99999/v1", "Port out of range"),
                                       ("http://[::1/v1", "Invalid IPv6 URL"),
                                       ("http://[zz]:8000/v1", "IPv4 or IPv6"),
                                       ("ftp://127.0.0.1/v1", "not an http(s) URL")])
def test_a_base_url_with_a_bad_port_or_host_is_one_line_and_exit_2(texts, tmp_path, capsys, url, says):
    rc = main(["translate", str(texts), str(tmp_path / "out.txt"), "--src", "eng_Latn", "--tgt", "khk_Cyrl",
               "--backend", "openai", "--model", "m", "--base-url", url])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and says in err and "base_url" in err


def test_a_redirect_to_an_unparseable_location_is_refused_too(server, fast_options, texts, tmp_path):
    server.redirect_to = "http://[::1"
    server.always = {"river": "redirect_307"}
    with pytest.raises(ConfigError, match=r"redirected a request to http://\[::1/chat/completions"):
        _translate(fast_options(max_retries=0), texts, tmp_path / "out.txt")
