"""Token shards: the documents `iter_texts` reads, cut into byte ranges, tokenized once and cached."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import langadapt.data.tokenize as T
from langadapt.data.token_shards import TokenShards, is_token_shards
from langadapt.errors import ConfigError, DataError
from langadapt.textio import expand_files, iter_texts

TXT = ("\ufeffнэг хоёр\r\n\r\n  \nгурав\rдөрөв\n" + "".join(f"мөр {i} tab\tx\n" for i in range(40))
       + "  leading space  \n\nlast line without newline")
JSONL = "".join(json.dumps({"text": t, "id": i}, ensure_ascii=False) + "\n"
                for i, t in enumerate(["a b", "", "c\nd", "e", None, "хоёр гурав"] * 5)) + "\n  \n"


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "a.txt").write_bytes(TXT.encode("utf-8"))
    (tmp_path / "b.jsonl").write_text(JSONL, encoding="utf-8")
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(JSONL)
    return [tmp_path / "a.txt", tmp_path / "b.jsonl", tmp_path / "c.jsonl.gz"]


@pytest.fixture
def small_tok():
    """A word-level fast tokenizer: a 30-token vocabulary (uint16 shards)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = "нэг хоёр гурав дөрөв мөр tab x a b c d e leading space last line without newline".split()
    vocab = {"[UNK]": 0, "</s>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token="</s>")


@pytest.mark.parametrize("unit", [1, 7, 64, 1 << 20])
def test_byte_ranges_read_the_documents_of_iter_texts(inputs, monkeypatch, unit):
    monkeypatch.setattr(T, "_MIN_UNIT", unit)
    units = T.plan_units(expand_files(inputs), workers=100)
    assert len(units) > 3 or unit == 1 << 20
    got = [t for u in units for t in T._unit_texts(u, "text")]
    assert got == list(iter_texts(inputs))


def test_shards_hold_the_tokenizer_ids_and_are_cached(inputs, small_tok, tmp_path, monkeypatch):
    monkeypatch.setenv("LANGADAPT_TOKENIZED", str(tmp_path / "cache"))
    monkeypatch.setattr(T, "_MIN_UNIT", 16)
    shards = T.tokenize_corpus(inputs, small_tok, progress=False)
    texts = list(iter_texts(inputs))
    assert shards.dtype == np.uint16 and shards.num_docs == len(texts) and len(shards.metas[0]["shards"]) > 3
    for i, text in enumerate(texts):
        assert shards.tokens(i).tolist() == small_tok(text, add_special_tokens=False)["input_ids"]
    assert shards.sizes(np.arange(len(texts))).tolist() == [len(t.encode()) for t in texts]
    assert shards.num_tokens == int(shards.lengths(np.arange(len(texts))).sum())

    def no_build(*a, **k):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(T, "_build", no_build)
    again = T.tokenize_corpus([str(p) for p in inputs], small_tok, progress=False)   # cache hit
    assert again.folders == shards.folders
    monkeypatch.undo()
    monkeypatch.setenv("LANGADAPT_TOKENIZED", str(tmp_path / "cache"))
    inputs[0].write_text("нэг\n", encoding="utf-8")           # new contents: new shards
    changed = T.tokenize_corpus(inputs, small_tok, progress=False)
    assert changed.folders != shards.folders and changed.num_docs == len(list(iter_texts(inputs)))
    assert is_token_shards(shards.folders[0])                  # the old ones stay valid


def test_two_processes_give_the_same_shards(data_dir, tokenizers_dir, tmp_path, monkeypatch):
    from langadapt.models.loading import load_tokenizer

    tok = load_tokenizer(tokenizers_dir / "qwen3")
    src = [data_dir / "mono" / "bible_mbspeech.txt"]
    monkeypatch.setattr(T, "_IN_PROCESS_BELOW", 0)
    monkeypatch.setattr(T, "_MIN_UNIT", 100_000)
    two = T.tokenize_corpus(src, tok, out=tmp_path / "two", workers=2, progress=False)
    texts = list(iter_texts(src))
    assert two.dtype == np.uint32 and len(two.metas[0]["shards"]) >= 4 and two.num_docs == len(texts)
    enc = tok(texts, add_special_tokens=False)["input_ids"]
    assert all(two.tokens(i).tolist() == enc[i] for i in range(len(texts)))


def test_bad_json_in_a_later_range_names_its_line(tmp_path, small_tok, monkeypatch):
    good = "".join(json.dumps({"text": f"a {i}"}) + "\n" for i in range(50))
    (tmp_path / "x.jsonl").write_text(good + "{broken\n", encoding="utf-8")
    monkeypatch.setattr(T, "_MIN_UNIT", 64)
    with pytest.raises(DataError, match=r"x\.jsonl:51: invalid JSON"):
        T.tokenize_corpus([tmp_path / "x.jsonl"], small_tok, out=tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()    # nothing half-written
    assert not (tmp_path / ".s.partial").exists()    # and nothing to resume from a bad input


def _ids(shards: TokenShards) -> list[list[int]]:
    return [shards.tokens(i).tolist() for i in range(shards.num_docs)]


def test_a_killed_run_resumes_with_the_shards_it_finished(inputs, small_tok, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "_MIN_UNIT", 16)
    whole = T.tokenize_corpus(inputs, small_tok, out=tmp_path / "whole", progress=False)
    n_units = len(whole.metas[0]["shards"])
    assert n_units > 4
    run_unit, ran = T._run_unit, []

    def killed_at_third(job):
        if len(ran) == 2:
            raise KeyboardInterrupt  # as Ctrl-C (or a kill) stops the run between two shards
        ran.append(job[0])
        return run_unit(job)

    monkeypatch.setattr(T, "_run_unit", killed_at_third)
    with pytest.raises(KeyboardInterrupt):
        T.tokenize_corpus(inputs, small_tok, out=tmp_path / "s", progress=False)
    finished = sorted(p.name for p in (tmp_path / ".s.partial").glob("*.done.json"))
    assert not (tmp_path / "s").exists() and finished == ["00000.done.json", "00001.done.json"]

    def counted(job):
        ran.append(job[0])
        return run_unit(job)

    ran.clear()
    monkeypatch.setattr(T, "_run_unit", counted)
    resumed = T.tokenize_corpus(inputs, small_tok, out=tmp_path / "s", progress=False)
    assert ran == list(range(2, n_units))                     # only the shards still missing
    assert _ids(resumed) == _ids(whole) and resumed.metas[0]["shards"] == whole.metas[0]["shards"]
    assert not (tmp_path / ".s.partial").exists()
    names = [sorted(p.name for p in (tmp_path / d).iterdir()) for d in ("s", "whole")]
    assert names[0] == names[1]


def test_a_partial_folder_of_other_inputs_is_started_over(inputs, small_tok, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "_MIN_UNIT", 16)
    partial = tmp_path / ".s.partial"
    partial.mkdir()
    (partial / "plan.json").write_text(json.dumps({"key": "other", "units": [{"path": "gone.txt"}]}))
    (partial / "00000.done.json").write_text("{}")
    shards = T.tokenize_corpus(inputs, small_tok, out=tmp_path / "s", progress=False)
    assert shards.num_docs == len(list(iter_texts(inputs))) and not partial.exists()


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_fsspec_urls_give_the_shards_of_the_local_files(inputs, small_tok, tmp_path, monkeypatch, scheme):
    import fsspec

    monkeypatch.setattr(T, "_MIN_UNIT", 16)
    local = T.tokenize_corpus(inputs, small_tok, out=tmp_path / "local", progress=False)
    if scheme == "file":
        url = f"file://{inputs[0].parent}"
    else:
        url = "memory://tok-test/corpus"
        fs = fsspec.filesystem("memory")
        for p in inputs:
            fs.pipe(f"/tok-test/corpus/{p.name}", p.read_bytes())
    try:
        remote = T.tokenize_corpus([url], small_tok, out=tmp_path / "url", progress=False)
    finally:
        if scheme == "memory":
            fs.rm("/tok-test", recursive=True)
    assert _ids(remote) == _ids(local) and remote.metas[0]["key"] == local.metas[0]["key"]
    assert remote.metas[0]["inputs"] == [f"{url}/{p.name}" for p in inputs]
    with pytest.raises(DataError, match="input not found"):
        T.tokenize_corpus(["memory://tok-test/missing.txt"], small_tok, out=tmp_path / "x", progress=False)


def test_training_refuses_shards_of_another_tokenizer(inputs, small_tok, tokenizers_dir, tmp_path):
    from langadapt.models.loading import load_tokenizer
    from langadapt.train.cpt_data import open_corpus

    T.tokenize_corpus(inputs, small_tok, out=tmp_path / "s", progress=False)
    assert isinstance(open_corpus([str(tmp_path / "s")], small_tok, "text", "data.train"), TokenShards)
    with pytest.raises(ConfigError, match="key 'data.train': token shards in .* another tokenizer"):
        open_corpus([str(tmp_path / "s")], load_tokenizer(tokenizers_dir / "qwen3"), "text", "data.train")
    with pytest.raises(ConfigError, match="mixes token-shard folders and text files"):
        open_corpus([str(tmp_path / "s"), str(inputs[0])], small_tok, "text", "data.train")


def test_cli_and_stage(data_dir, tokenizers_dir, tmp_path, capsys):
    from langadapt.cli import main
    from langadapt.stages import StageContext, get_stage

    src = str(data_dir / "mono" / "bible_mbspeech.txt")
    tok = str(tokenizers_dir / "qwen3")
    assert main(["data", "tokenize", src, "--tokenizer", tok, "--out", str(tmp_path / "cli"), "--json"]) == 0
    rows = {r["metric"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    shards = TokenShards.open(tmp_path / "cli")
    assert rows["docs"]["value"] == shards.num_docs == len(list(iter_texts([src])))
    assert rows["tokens"]["value"] == shards.num_tokens
    stage = get_stage("data.tokenize")
    out = tmp_path / "stage"
    out.mkdir()
    res = stage().run(stage.Options(inputs=[src], tokenizer=tok), StageContext("tok", out, tmp_path))
    assert {r.metric for r in res} == {"docs", "tokens", "bytes", "bytes_per_token"}
    assert is_token_shards(out) and TokenShards.open(out).num_tokens == shards.num_tokens


def test_a_rerun_finds_shards_without_loading_the_tokenizer(data_dir, tokenizers_dir, tmp_path, monkeypatch):
    import shutil

    import langadapt.models.loading as loading

    monkeypatch.setenv("LANGADAPT_TOKENIZED", str(tmp_path / "cache"))
    tok_dir = tmp_path / "qwen3"
    shutil.copytree(tokenizers_dir / "qwen3", tok_dir)
    opts = T.TokenizeOptions(inputs=[str(data_dir / "mono" / "bible_mbspeech.txt")], tokenizer=str(tok_dir))
    first = T.tokenize(opts, progress=False)
    loads = []
    real_load = loading.load_tokenizer
    monkeypatch.setattr(loading, "load_tokenizer", lambda p: loads.append(p) or real_load(p))
    again = T.tokenize(opts, progress=False)
    assert again.folders == first.folders and loads == []           # answered from the fingerprint
    out = T.tokenize(opts, out=tmp_path / "out", progress=False)    # a new folder: tokenized
    assert loads == [str(tok_dir)] and out.num_tokens == first.num_tokens
    assert T.tokenize(opts, out=tmp_path / "out", progress=False).folders == out.folders and len(loads) == 1
    # another tokenizer config: another fingerprint, so the tokenizer is loaded (same backend: same shards)
    cfg = json.loads((tok_dir / "tokenizer_config.json").read_text())
    (tok_dir / "tokenizer_config.json").write_text(json.dumps({**cfg, "model_max_length": 77}))
    assert T.tokenize(opts, progress=False).folders == first.folders and len(loads) == 2
