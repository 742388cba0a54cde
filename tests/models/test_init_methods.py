import json

import pytest
import torch

from langadapt.errors import ConfigError
from langadapt.models.init import InitContext, NewToken, init_methods, make_init
from langadapt.models.init.aux_vectors import train_static_vectors
from langadapt.models.init.similarity import mix_weights, sparsemax

# 6 base rows of dim 2; two new tokens (ids 6, 7) made of base pieces.
W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [4.0, 0.0], [0.0, 4.0], [3.0, 3.0],
                  [0.0, 0.0], [0.0, 0.0]])
NEW = [NewToken(6, "ab", "ab", (0, 1)), NewToken(7, "cde", "cde", (2, 3, 4))]


def ctx(seed=0, **kw):
    return InitContext(new_tokens=NEW, n_base=6, seed=seed, initializer_range=0.02, **kw)


def test_registry_has_the_required_methods():
    assert {"fvt", "mean", "random", "focus"} <= set(init_methods())


@pytest.mark.parametrize("token,expected", [(0, [0.5, 0.5]), (1, [2.0, 2.0])])
def test_fvt_is_the_mean_of_the_decomposition(token, expected):
    rows = make_init("fvt", ctx()).rows(W, "input")
    assert rows[token].tolist() == expected


def test_mean_is_the_base_mean_plus_small_seeded_noise():
    a = make_init("mean", ctx(seed=1)).rows(W, "input")
    b = make_init("mean", ctx(seed=1)).rows(W, "input")
    c = make_init("mean", ctx(seed=2)).rows(W, "input")
    assert torch.equal(a, b) and not torch.equal(a, c)
    base_mean = W[:6].mean(0)
    assert torch.allclose(a, base_mean.expand(2, -1), atol=0.1)
    assert not torch.equal(a[0], a[1])  # noise makes the rows distinguishable
    assert torch.equal(make_init("mean", ctx(), {"noise": 0.0}).rows(W, "input")[0], base_mean)


def _many_new(n=2000):
    return [NewToken(6 + i, "x", "x", (0,)) for i in range(n)]


def test_random_follows_the_base_rows_mean_and_covariance_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(64, 64, generator=g)  # anisotropic, correlated dimensions, as real embeddings
    base = 3.0 + 50.0 * torch.randn(3000, 64, generator=g) @ mix
    big = InitContext(new_tokens=_many_new(), n_base=3000, seed=3, initializer_range=0.02)
    rows = make_init("random", big).rows(base, "input")
    assert torch.allclose(rows.mean(0), base.mean(0), atol=0.15 * base.std(0).mean().item())
    assert torch.allclose(rows.std(0), base.std(0), rtol=0.1)
    # What decides the softmax: the spread of h·row along any direction h matches the old rows'.
    h = torch.randn(16, 64, generator=g)
    assert torch.allclose((rows @ h.T).std(0), (base @ h.T).std(0), rtol=0.1)
    assert torch.equal(rows, make_init("random", big).rows(base, "input"))
    assert not torch.equal(rows, make_init("random", big).rows(base, "output"))


def test_random_can_still_draw_the_library_default():
    big = InitContext(new_tokens=_many_new(), n_base=6, seed=3, initializer_range=0.02)
    rows = make_init("random", big, {"scale": "initializer_range"}).rows(torch.zeros(6, 64), "input")
    assert rows.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("name", ["fvt", "mean", "random"])
def test_rows_follow_the_matrix_scale(name):
    # Gemma-style checkpoints keep embeddings at their own scale (the forward multiplies by
    # sqrt(hidden)); every method must work in the matrix's units: rows(s * W) == s * rows(W).
    g = torch.Generator().manual_seed(1)
    w = torch.randn(6, 8, generator=g)
    a = make_init(name, ctx(seed=5)).rows(w, "input")
    b = make_init(name, ctx(seed=5)).rows(40.0 * w, "input")
    assert torch.allclose(b, 40.0 * a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,options,error", [
    ("nope", {}, "unknown init method"),
    ("mean", {"nosie": 0.1}, "unknown key"),
    ("focus", {}, "corpus"),
])
def test_bad_method_or_options_are_config_errors(name, options, error):
    with pytest.raises(ConfigError, match=error):
        make_init(name, ctx(), options)


@pytest.mark.parametrize("z,expected", [
    ([0.9, 0.85, 0.1], [0.525, 0.475, 0.0]),
    ([2.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
    ([0.3, 0.3, 0.3, 0.3], [0.25, 0.25, 0.25, 0.25]),
])
def test_sparsemax_table(z, expected):
    assert torch.allclose(sparsemax(torch.tensor([z])), torch.tensor([expected]), atol=1e-6)


def test_softmax_top_k_weights_sum_to_one_over_k():
    (idx, w), = mix_weights(torch.tensor([[0.1, 0.9, 0.5, 0.8]]), "softmax", top_k=2, temperature=0.1)
    assert idx.tolist() == [1, 3] and w.sum().item() == pytest.approx(1.0) and w[0] > w[1]


def _two_topics(n_docs=200, seed=0):
    """Tokens 1-3 share contexts with each other, tokens 10-12 with each other."""
    g = torch.Generator().manual_seed(seed)
    docs = []
    for d in range(n_docs):
        pool = [1, 2, 3, 20] if d % 2 else [10, 11, 12, 21]
        docs.append([pool[i] for i in torch.randint(0, 4, (30,), generator=g).tolist()])
    return docs


def test_aux_vectors_put_same_topic_tokens_together():
    ids, vecs = train_static_vectors(_two_topics(), dim=8, window=3, min_count=2)
    assert ids.tolist() == [1, 2, 3, 10, 11, 12, 20, 21]
    sims = vecs @ vecs.T
    assert sims[0, 1] > 0.5 and sims[3, 4] > 0.5
    assert abs(sims[0, 3]) < 0.1


class _Tok:
    """A whitespace tokenizer over integer strings, standing in for the extended tokenizer."""

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[int(t) for t in s.split()] for s in texts]}


def test_focus_mixes_the_rows_of_similar_base_tokens(tmp_path):
    # New token 11 lives among tokens 10 and 12; its neighbours must be those, not 1-3.
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(map(str, d)) for d in _two_topics()) + "\n")
    weight = torch.zeros(22, 2)
    weight[[1, 2, 3], 0] = 1.0
    weight[[10, 12], 1] = 1.0
    c = InitContext(new_tokens=[NewToken(11, "x", "x", (1,)), NewToken(21, "y", "y", (1,))], n_base=11,
                    extended_tokenizer=_Tok())
    # n_base=11: only ids < 11 are base tokens, so 12 and 20 are not candidates.
    method = make_init("focus", c, {"corpus": [str(corpus)], "dim": 8, "window": 3, "min_count": 2,
                                    "weighting": "softmax", "top_k": 3})
    facts = method.prepare()
    assert facts["new_with_vector"] == 2 and facts["new_fvt_fallback"] == 0
    rows = method.rows(weight, "input")
    assert rows[0, 1] > 0.9 and rows[0, 0] < 0.1       # mostly token 10's row
    assert rows[0].sum().item() == pytest.approx(1.0, abs=1e-5)


def test_random_new_rows_score_like_old_rows_on_a_gemma_scaled_model(tiny_model):
    # Gemma multiplies input embeddings by sqrt(hidden), so its stored rows are far from
    # initializer_range and share a common offset. Give a tiny Gemma 3's (tied) rows that
    # shape: random new rows must then get logits distributed like the old rows' logits
    # (with N(0, initializer_range) rows they sat ~12 spreads above them).
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from langadapt.models.embeddings import extend_rows

    model = AutoModelForCausalLM.from_pretrained(tiny_model("gemma3")).eval()
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        emb.mul_(30.0).add_(torch.randn(emb.shape[1], generator=torch.Generator().manual_seed(0)))
    n_old = emb.shape[0]
    new = [NewToken(n_old + i, "x", "x", (5,)) for i in range(2000)]
    c = InitContext(new_tokens=new, n_base=n_old, seed=0, initializer_range=model.config.initializer_range)
    extend_rows(model, new, make_init("random", c), seed=0)
    ids = AutoTokenizer.from_pretrained(tiny_model("gemma3"))("Монгол улсын засгийн газар",
                                                             return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    old, fresh = logits[:, :n_old], logits[:, n_old:]
    spread = old.std(1)
    assert ((fresh.mean(1) - old.mean(1)).abs() < 0.5 * spread).all()
    assert ((fresh.std(1) / spread - 1).abs() < 0.25).all()


def test_calibrated_unties_the_head_and_shifts_first_piece_rows(tiny_model, surgery_toks, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from langadapt.models.embeddings import read_new_tokens, resize_model

    base, tok_dir, out = tiny_model("qwen3"), surgery_toks("extended", "qwen3"), tmp_path / "cal"
    corpus = tmp_path / "c.txt"
    corpus.write_text("Монгол улсын засгийн газар өнөөдөр хуралдлаа.\nУлаанбаатар хотод хүмүүс ажил "
                      "хийж байна.\n", encoding="utf-8")
    rows = resize_model(base, tok_dir, out, init="calibrated", init_options={"corpus": [str(corpus)]})
    assert next(r for r in rows if r.metric == "resize.old_logits_max_abs_diff").extra["passed"]
    report = json.loads((out / "resize.json").read_text())
    facts = report["facts"]
    assert facts["untied_head"] and facts["new_in_context"] > 0 and facts["new_after_bos"] > 0
    assert facts["mean_shift_nats"] < 0          # the remaining pieces are never certain
    assert facts["hb_mean"] == pytest.approx(1.0, abs=0.1)
    model = AutoModelForCausalLM.from_pretrained(out)
    emb = model.get_input_embeddings().weight.detach()
    head = model.get_output_embeddings().weight.detach()
    assert not model.config.tie_word_embeddings and emb.data_ptr() != head.data_ptr()
    base_model = AutoModelForCausalLM.from_pretrained(base)
    base_emb = base_model.get_input_embeddings().weight.detach()
    n = base_emb.shape[0]
    assert torch.equal(head[:n], base_emb) and torch.equal(emb[:n], base_emb)
    new = read_new_tokens(tok_dir / "new_tokens.jsonl")
    # Input rows are fvt; a head row differs from its first piece's row along one direction.
    b = None
    for t in new:
        assert torch.allclose(emb[t.id], base_emb[list(t.base_ids)].mean(0), atol=1e-6)
        d = head[t.id] - base_emb[t.base_ids[0]]
        if d.norm() > 1e-6:
            b = d / d.norm() if b is None else b
            assert abs(float(d @ b) / d.norm().item()) == pytest.approx(1.0, abs=1e-4)
    ids = AutoTokenizer.from_pretrained(out)(corpus.read_text().splitlines()[0], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**ids).logits).all()


def test_calibrated_without_untie_keeps_a_tied_head_and_equals_fvt(tiny_model, surgery_toks, tmp_path):
    from langadapt.models.embeddings import resize_model

    base, tok_dir = tiny_model("qwen3"), surgery_toks("extended", "qwen3")
    resize_model(base, tok_dir, tmp_path / "a", init="calibrated", init_options={"untie": False})
    resize_model(base, tok_dir, tmp_path / "b", init="fvt")
    from safetensors.torch import load_file
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
