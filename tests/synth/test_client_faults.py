"""The `openai` backend against a real local server: faults survived, failures reported by id."""

from __future__ import annotations

import gzip
import json
import logging
import random

import pytest

from langadapt.errors import ConfigError
from langadapt.gen.client import backoff_s, retry_after_s
from langadapt.gen.options import ServerOptions
from langadapt.synth.run import GenerationFailed, journal_path, read_journal, translate_file_openai


def _rows(rows):
    return {r.metric: r for r in rows}


def test_every_transient_fault_is_retried_and_counted(server, fast_options, fixture_file, tmp_path):
    server.script = ["429", "500", "drop", "malformed", "slow"]
    out = tmp_path / "out.jsonl"
    rows = _rows(translate_file_openai(fast_options(timeout_s=1.0), fixture_file, out, src="eng_Latn",
                                       tgt="khk_Cyrl"))
    errors = rows["translate.retries"].extra["errors"]
    for kind in ("connection", "http_429", "http_500", "malformed", "timeout"):
        assert errors.get(kind, 0) >= 1, kind  # (more timeouts only if the machine stalls)
    retries = rows["translate.retries"].value
    assert retries == sum(errors.values()) >= 5
    assert rows["translate.requests"].value == rows["translate.new"].value + retries == len(server.log)
    assert rows["translate.kept"].value == 30
    assert len(out.read_text(encoding="utf-8").splitlines()) == 30


def test_concurrency_bounds_the_requests_in_flight(server, fast_options, fixture_file, tmp_path):
    server.delay_s = 0.05
    translate_file_openai(fast_options(concurrency=3), fixture_file, tmp_path / "o.jsonl", src="eng_Latn",
                          tgt="khk_Cyrl")
    assert server.max_in_flight == 3


def test_a_rejected_request_is_not_retried_and_is_reported(server, fast_options, fixture_file, tmp_path):
    server.always = {"Name two animals": "400", "Explain what a fever is.": "400"}
    with pytest.raises(GenerationFailed, match=r"2 of \d+ requests failed .*record 15 \(id 15\) field "
                                              r"instruction: HTTP 400: .*; record 20 \(id 20\)"):
        translate_file_openai(fast_options(), fixture_file, tmp_path / "o.jsonl", src="eng_Latn",
                              tgt="khk_Cyrl")
    assert sum(r["fault"] == "400" for r in server.log) == 2  # one attempt each


def test_retry_after_is_honoured(server, fast_options, fixture_file, tmp_path):
    server.retry_after = "0.3"
    server.always = {"What is the capital of Mongolia?": "429"}
    opts = fast_options(max_retries=1, backoff_s=0.0)
    with pytest.raises(GenerationFailed):
        translate_file_openai(opts, fixture_file, tmp_path / "o.jsonl", src="eng_Latn", tgt="khk_Cyrl")
    times = [r["time"] for r in server.log if "What is the capital of Mongolia?" in r["text"]]
    assert len(times) == 2 and times[1] - times[0] >= 0.3


def test_a_request_failing_every_retry_is_reported_by_id_and_the_rest_kept(server, fast_options,
                                                                          fixture_file, tmp_path):
    server.always = {"What is the capital of Mongolia?": "500"}
    out = tmp_path / "out.jsonl"
    with pytest.raises(GenerationFailed, match=r"1 of \d+ requests failed.*record 2 \(id 2\) field "
                                              r"instruction: http_500 after 4 attempts"):
        translate_file_openai(fast_options(), fixture_file, out, src="eng_Latn", tgt="khk_Cyrl")
    assert not out.exists()
    kept = read_journal(journal_path(out))
    first = len(server.log)
    assert len(kept) == first - 4  # every other text answered once and stored
    server.always = {}
    rows = _rows(translate_file_openai(fast_options(), fixture_file, out, src="eng_Latn",
                                       tgt="khk_Cyrl"))
    again = server.texts()[first:]
    assert len(again) == 1 and "What is the capital of Mongolia?" in again[0]
    assert (rows["translate.resumed"].value, rows["translate.new"].value) == (len(kept), 1)
    assert rows["translate.kept"].value == 30 and not journal_path(out).parent.exists()


def test_a_refused_key_or_unknown_model_stops_the_run_with_one_line(server, fast_options, fixture_file,
                                                                    tmp_path):
    server.always = {"": "401"}
    with pytest.raises(ConfigError, match=r"refused the API key \(HTTP 401\)"):
        translate_file_openai(fast_options(), fixture_file, tmp_path / "o.jsonl", src="eng_Latn",
                              tgt="khk_Cyrl")
    server.always = {}
    opts = fast_options(base_url=server.url.replace("/v1", "/nowhere"))
    with pytest.raises(ConfigError, match="no such endpoint or model"):
        translate_file_openai(opts, fixture_file, tmp_path / "o.jsonl", src="eng_Latn", tgt="khk_Cyrl")


def test_api_key_is_read_from_the_named_variable_and_written_nowhere(server, fast_options, fixture_file,
                                                                    tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP client's included
    secret = "sk-test-7f3a9c1e5b"
    monkeypatch.setenv("LANGADAPT_TEST_KEY", secret)
    server.always = {"leap year": "length", "What is the capital of Mongolia?": "500"}
    opts = fast_options(api_key_env="LANGADAPT_TEST_KEY", max_retries=0)
    out = tmp_path / "out" / "data.jsonl"
    with pytest.raises(GenerationFailed) as failed:
        translate_file_openai(opts, fixture_file, out, src="eng_Latn", tgt="khk_Cyrl")
    assert secret not in str(failed.value)
    assert {r["auth"] for r in server.log} == {f"Bearer {secret}"}
    server.always = {"leap year": "length"}
    rows = translate_file_openai(opts, fixture_file, out, src="eng_Latn", tgt="khk_Cyrl")
    assert secret not in json.dumps([r.model_dump() for r in rows])
    assert "LANGADAPT_TEST_KEY" not in json.dumps(rows[0].signature)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "truncated.jsonl.gz" for p in files)
    for p in files:
        data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        assert secret.encode() not in data, p
    assert secret not in caplog.text and len(caplog.records) > 10


def test_an_unset_key_variable_is_a_config_error(server, fast_options, fixture_file, tmp_path, monkeypatch):
    monkeypatch.delenv("LANGADAPT_NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="LANGADAPT_NO_SUCH_KEY is not set"):
        translate_file_openai(fast_options(api_key_env="LANGADAPT_NO_SUCH_KEY"), fixture_file,
                              tmp_path / "o.jsonl", src="eng_Latn", tgt="khk_Cyrl")
    assert server.log == []


class _Headers(dict):
    def get(self, k, default=None):
        return super().get(k.lower(), default)


@pytest.mark.parametrize("headers, expected", [
    ({"retry-after": "2"}, 2.0), ({"retry-after": "0.5"}, 0.5), ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), ({"retry-after": "soon"}, None), ({}, None)])
def test_retry_after_parsing(headers, expected):
    assert retry_after_s(_Headers(headers)) == expected


def test_backoff_doubles_with_jitter_and_respects_retry_after():
    o = ServerOptions(base_url="http://x", model="m", backoff_s=1.0, backoff_max_s=8.0, retry_after_max_s=30)
    rng = random.Random(0)
    waits = [backoff_s(o, a, None, rng) for a in range(6)]
    assert all(0.5 * min(8, 2 ** a) <= w <= min(8, 2 ** a) for a, w in enumerate(waits))
    assert backoff_s(o, 0, 20.0, rng) == 20.0 and backoff_s(o, 0, 500.0, rng) == 30.0
