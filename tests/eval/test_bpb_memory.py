"""bpb scoring memory: the logits materialised stay within a fixed number of positions whatever
the line length, with the same scores as projecting whole windows at once."""

from __future__ import annotations

import pytest

from langadapt.eval import loglik
from langadapt.eval.perplexity import BpbScoring, score_documents


@pytest.fixture(scope="module")
def qwen(tiny_model):
    from langadapt.models.loading import load_model

    return load_model(tiny_model("qwen3"))


@pytest.fixture(scope="module")
def texts(data_dir):
    lines = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    short = [line[:120] for line in lines[:3]]
    return short, " ".join(lines[:40])   # one line of ~10 KB: many windows of 256 tokens


def _logit_rows(loaded, texts, opts) -> int:
    """The most positions projected onto the vocabulary at once while scoring `texts`."""
    rows: list[int] = []
    head = loaded.model.get_output_embeddings()
    hook = head.register_forward_hook(lambda mod, inp, out: rows.append(out.shape[:-1].numel()))
    try:
        score_documents(loaded, texts, opts)
    finally:
        hook.remove()
    return max(rows)


def test_long_line_logits_stay_within_a_fixed_bound(qwen, texts):
    short, long_line = texts
    bound = getattr(loglik, "LOGITS_CHUNK", 256)
    opts = BpbScoring(max_length=256, batch_size=8)
    assert len(qwen.tokenizer(long_line)["input_ids"]) > 4 * 256   # scored in several windows
    assert _logit_rows(qwen, short, opts) <= bound
    # the old scoring projected every window of the batch at once: 8 x 256 positions here
    assert _logit_rows(qwen, [long_line], opts) <= bound


def test_chunked_logits_score_as_whole_windows_did(qwen, texts, monkeypatch):
    short, long_line = texts
    opts = BpbScoring(max_length=256, batch_size=4)
    docs = [*short, long_line]
    chunked = score_documents(qwen, docs, opts)
    monkeypatch.setattr(loglik, "split_head", lambda *a: None, raising=False)   # whole logits
    whole = score_documents(qwen, docs, opts)
    assert chunked[:, 1:].tolist() == whole[:, 1:].tolist()
    assert chunked[:, 0] == pytest.approx(whole[:, 0], rel=1e-6)


def test_a_model_whose_logits_are_not_head_of_hidden_is_scored_whole(qwen, texts, monkeypatch):
    short, _ = texts
    opts = BpbScoring(max_length=64)
    before = score_documents(qwen, short, opts)
    cfg = qwen.model.config
    # Soft-capping as Gemma 2 applies after the head: the split must notice and not be used.
    original = qwen.model.forward

    def capped(*a, **kw):
        out = original(*a, **kw)
        out.logits = 2.0 * out.logits
        return out

    monkeypatch.setattr(qwen.model, "forward", capped)
    assert loglik.split_head(qwen, loglik.Request((1, 2), (3, 4)), cfg.pad_token_id or 0) is None
    doubled = score_documents(qwen, short, opts)
    assert (doubled[:, 0] != before[:, 0]).all()
