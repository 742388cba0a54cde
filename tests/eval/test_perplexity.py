"""bpb: windows, agreement with a hand computation and with lm-evaluation-harness, CLI rows."""

from __future__ import annotations

import json
import math

import pytest
import torch

from langadapt.eval.loglik import Request, score_requests
from langadapt.eval.perplexity import BpbScoring, count_words, rolling_requests, score_documents


@pytest.fixture(scope="module")
def lines(data_dir):
    # Real FLORES sentences, cut to ~25 tokens: the tiny models' 150k-260k vocabularies make
    # every scored token cost a full softmax on CPU.
    text = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8")
    return [line[:90].rstrip() for line in text.splitlines()[:5]]


@pytest.fixture(scope="module")
def qwen(tiny_model):
    from langadapt.models.loading import load_model

    return load_model(tiny_model("qwen3"))


def _hand_nll(loaded, ids: list[int]) -> float:
    """Sum of token NLLs from one unbatched forward pass over `ids` (first id = condition)."""
    with torch.no_grad():
        lp = loaded.model(torch.tensor([ids])).logits[0].log_softmax(-1).double()
    return -sum(lp[i, ids[i + 1]].item() for i in range(len(ids) - 1))


def _last_nll(loaded, ids: list[int]) -> float:
    """NLL of the last id given all the ids before it."""
    with torch.no_grad():
        lp = loaded.model(torch.tensor([ids[:-1]])).logits[0, -1].double().log_softmax(-1)
    return -lp[ids[-1]].item()


@pytest.mark.parametrize("n, max_length, stride, expected", [
    # (document length, window, stride) -> [(context, target)] over seq = [P] + 1..n
    (3, 8, 8, [((0,), (1, 2, 3))]),
    (5, 3, 3, [((0,), (1, 2, 3)), ((2, 3), (4, 5))]),  # the last window fills up with context
    (6, 3, 3, [((0,), (1, 2, 3)), ((3,), (4, 5, 6))]),
    (5, 3, 1, [((0,), (1, 2, 3)), ((1, 2, 3), (4,)), ((2, 3, 4), (5,))]),
    (6, 4, 2, [((0,), (1, 2, 3, 4)), ((2, 3, 4), (5, 6))]),
    (0, 4, 4, []),
])
def test_rolling_windows_table(n, max_length, stride, expected):
    reqs = rolling_requests(list(range(1, n + 1)), [0], max_length, stride)
    assert [(r.context, r.target) for r in reqs] == expected
    assert all(r.length <= max_length for r in reqs)


@pytest.mark.parametrize("stride", [0, 9])
def test_rolling_windows_reject_bad_stride(stride):
    with pytest.raises(ValueError):
        rolling_requests([1, 2, 3], [0], 8, stride)


@pytest.mark.parametrize("text, words", [("a b  c", 3), (" a b", 3), ("нэг", 1), ("a\tb\nc", 3)])
def test_word_count_follows_lm_eval(text, words):
    assert count_words(text) == words


def test_bpb_matches_hand_computation(qwen, lines):
    tok = qwen.tokenizer
    assert tok.bos_token_id is None  # Qwen has no BOS: documents are conditioned on EOS
    nll = sum(_hand_nll(qwen, [tok.eos_token_id] + tok(t, add_special_tokens=False)["input_ids"])
              for t in lines)
    n_bytes = sum(len(t.encode("utf-8")) for t in lines)
    stats = score_documents(qwen, lines, BpbScoring(batch_size=4))
    assert stats[:, 2].sum() == n_bytes
    got = stats[:, 0].sum() / (stats[:, 2].sum() * math.log(2))
    assert got == pytest.approx(nll / (n_bytes * math.log(2)), rel=1e-6)


def test_sliding_window_matches_hand_computation(qwen, lines):
    """stride 1, window 8: every token is scored after exactly its 7 previous tokens."""
    tok = qwen.tokenizer
    ids = tok(lines[0], add_special_tokens=False)["input_ids"][:16]
    seq = [tok.eos_token_id] + ids
    hand = sum(_last_nll(qwen, seq[max(0, j - 8): j + 1]) for j in range(1, len(seq)))
    reqs = rolling_requests(ids, [tok.eos_token_id], 8, 1)
    got = -sum(s.logprob for s in score_requests(qwen, reqs, batch_size=5))
    assert got == pytest.approx(hand, rel=1e-6)


def test_batching_does_not_change_scores(qwen, lines):
    tok = qwen.tokenizer
    reqs = [Request((tok.eos_token_id,), tuple(tok(t, add_special_tokens=False)["input_ids"]))
            for t in lines]
    one = [s.logprob for s in score_requests(qwen, reqs, batch_size=1)]
    many = [s.logprob for s in score_requests(qwen, reqs, batch_size=5)]
    assert many == pytest.approx(one, rel=1e-6)


def test_bos_model_conditions_on_bos(tiny_model, lines):
    from langadapt.models.loading import load_model

    llama = load_model(tiny_model("llama"))
    tok = llama.tokenizer
    ids = tok(lines[1], add_special_tokens=False)["input_ids"]
    assert ids[0] != tok.bos_token_id  # the BOS comes from the conditioning, not the tokenizer
    stats = score_documents(llama, lines[1:2], BpbScoring())
    assert stats[0, 0] == pytest.approx(_hand_nll(llama, [tok.bos_token_id] + ids), rel=1e-6)


def test_matches_lm_evaluation_harness(qwen, lines):
    pytest.importorskip("lm_eval", reason="lm-eval not installed (pip install 'langadapt[lmeval]')")
    from lm_eval.api.instance import Instance
    from lm_eval.api.metrics import bits_per_byte
    from lm_eval.models.huggingface import HFLM

    # max_length 16 < every line, so lm-eval's rolling windows are exercised too.
    lm = HFLM(pretrained=qwen.model, tokenizer=qwen.tokenizer, batch_size=4, max_length=16)
    reqs = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(t,), idx=i)
            for i, t in enumerate(lines)]
    ll = lm.loglikelihood_rolling(reqs, disable_tqdm=True)
    ref = bits_per_byte([(x, len(t.encode("utf-8"))) for x, t in zip(ll, lines)])
    stats = score_documents(qwen, lines, BpbScoring(batch_size=3, max_length=16))
    assert stats[:, 0].sum() / (stats[:, 2].sum() * math.log(2)) == pytest.approx(ref, rel=1e-4)


def test_seq2seq_scores_decoder_side(tiny_model, lines):
    from langadapt.models.loading import load_model

    m2m = load_model(tiny_model("m2m100"))
    plain = score_documents(m2m, lines[:2], BpbScoring())
    coded = score_documents(m2m, lines[:2], BpbScoring(lang="khk_Cyrl"))
    assert (plain[:, 0] > 0).all() and (coded[:, 0] > 0).all()
    assert not (plain[:, 0] == coded[:, 0]).all()  # the language code conditions the decoder


def test_cli_prints_rows(tiny_model, data_dir, capsys):
    from langadapt.cli import main

    text = data_dir / "flores" / "khk_Cyrl.dev.txt"
    assert main(["eval", "bpb", "--model", str(tiny_model("qwen3")), "--text", str(text), "--json",
                 "--max-docs", "4", "--batch-size", "4", "--stride", "32", "--max-length", "64"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["bpb", "token_perplexity", "word_perplexity"]
    for r in rows:
        assert r["n"] == 4 and r["dataset"] == "khk_Cyrl.dev.txt"
        assert r["ci"][0] <= r["value"] <= r["ci"][1]
        assert r["signature"]["options"]["stride"] == 32 and r["signature"]["data_hash"]


def test_cli_missing_file_exits_2(tiny_model, tmp_path, capsys):
    from langadapt.cli import main

    code = main(["eval", "bpb", "--model", str(tiny_model("qwen3")), "--text", str(tmp_path / "nope.txt")])
    assert code == 2
    assert "nope.txt" in capsys.readouterr().err


def test_stage_writes_rows_and_per_document_stats(tiny_model, data_dir, tmp_path):
    from langadapt.stages import StageContext, get_stage

    cls = get_stage("eval.bpb")
    opts = cls.Options(model=str(tiny_model("qwen3")), text=[str(data_dir / "flores" / "khk_Cyrl.dev.txt")],
                       max_docs=3, max_length=32, resamples=50)
    rows = cls().run(opts, StageContext("bpb", tmp_path, tmp_path, seed=1, variant="base"))
    assert [r.variant for r in rows] == ["base"] * 3 and rows[0].signature["seed"] == 1
    per_doc = (tmp_path / "khk_Cyrl.dev.txt.per_doc.tsv").read_text().splitlines()
    assert len(per_doc) == 4 and per_doc[0].split("\t") == ["nll_nats", "tokens", "bytes", "words"]
    assert (tmp_path / "rows.jsonl").read_text().count("\n") == 3


def test_chunk_cache_resumes_without_rescoring(qwen, lines, tmp_path):
    import numpy as np

    opts = BpbScoring(batch_size=4)
    full = score_documents(qwen, lines, opts, cache_dir=tmp_path, chunk_docs=2)
    chunks = sorted(tmp_path.glob("bpb-*.npy"))
    assert len(chunks) == 3 and not list(tmp_path.glob(".*tmp"))
    # An "interrupted" run: the last chunk is missing and the first one is marked, so a
    # resumed run must read the first from disk and score only the last again.
    chunks[-1].unlink()
    marked = np.load(chunks[0])
    marked[:, 0] = -1.0
    np.save(chunks[0], marked)
    resumed = score_documents(qwen, lines, opts, cache_dir=tmp_path, chunk_docs=2)
    assert (resumed[:2, 0] == -1.0).all()
    assert resumed[2:] == pytest.approx(full[2:], rel=1e-9)
    assert len(list(tmp_path.glob("bpb-*.npy"))) == 3
    other = score_documents(qwen, lines, BpbScoring(max_length=16), cache_dir=tmp_path, chunk_docs=2)
    assert (other[:2, 0] > 0).all()  # other options never reuse those chunks


def test_paired_rows_against_a_baseline():
    import numpy as np

    from langadapt.errors import DataError
    from langadapt.eval.perplexity import paired_rows

    rng = np.random.default_rng(0)
    nbytes = rng.integers(50, 200, size=40).astype(float)
    base = np.stack([nbytes * 1.0, nbytes / 4, nbytes, nbytes / 6], axis=1)   # 1 nat per byte
    better = base.copy()
    better[:, 0] *= 0.9
    delta, p = paired_rows(better, base, dataset="d", model="m", baseline="b", sig={}, resamples=200)
    assert delta.metric == "bpb_delta" and p.metric == "bpb_delta_p"
    assert delta.value == pytest.approx(-0.1 / math.log(2))
    assert delta.ci[0] <= delta.value <= delta.ci[1] < 0 and p.value < 0.05
    same, p_same = paired_rows(base, base, dataset="d", model="m", baseline="b", sig={}, resamples=200)
    assert same.value == 0 and p_same.value == 1.0
    with pytest.raises(DataError, match="different documents"):
        paired_rows(better[:10], base, dataset="d", model="m", baseline="b", sig={})


def test_stage_compares_with_a_baseline_folder(tiny_model, data_dir, tmp_path):
    from langadapt.stages import StageContext, get_stage

    cls = get_stage("eval.bpb")
    text = [str(data_dir / "flores" / "khk_Cyrl.dev.txt")]
    base_dir, out = tmp_path / "base", tmp_path / "again"
    opts = cls.Options(model=str(tiny_model("qwen3")), text=text, max_docs=3, max_length=32, resamples=50)
    cls().run(opts, StageContext("base", base_dir, tmp_path, seed=0))
    rows = cls().run(opts.model_copy(update={"baseline": str(base_dir)}),
                     StageContext("again", out, tmp_path, seed=0))
    by = {r.metric: r for r in rows}
    assert by["bpb_delta"].value == pytest.approx(0.0, abs=1e-9)
    assert by["bpb_delta"].extra["baseline"] == str(base_dir)
