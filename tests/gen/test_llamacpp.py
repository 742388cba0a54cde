"""The llama.cpp runtime wrapper on the real GGUF checkpoints, and its numpy sampler.

The real-file tests skip naming `langadapt model fetch` when the checkpoints are not
cached, and naming the pip install when the runtime is missing. The HF side is the
tokenizer transformers reads from the same GGUF file (the `imported` folder).
"""

from __future__ import annotations

import numpy as np
import pytest

from langadapt.errors import DataError
from langadapt.gen import llamacpp
from langadapt.gen.llamacpp import LlamaCpp, pick_token
from langadapt.gen.llamacpp_quantize import quantize

REAL = ("smollm2-135m-instruct", "gemma3-270m")


@pytest.fixture(scope="module")
def runtime():
    if (why := llamacpp.runtime_missing()) is not None:
        pytest.skip(why)
    return llamacpp


@pytest.fixture(scope="module")
def flores_lines(data_dir) -> list[str]:
    """Six FLORES dev lines: three Mongolian, three English."""
    def read(lang: str) -> list[str]:
        return (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()

    return read("khk_Cyrl")[:3] + read("eng_Latn")[:3]


# ---------------------------------------------------------------- sampler (no model)
def test_pick_token_greedy_top_k_top_p_and_seed():
    row = np.log(np.array([0.05, 0.5, 0.3, 0.15], np.float32))
    assert pick_token(row) == 1
    # top_k=1 and a tiny top_p leave only the best token, whatever the temperature
    rng = np.random.default_rng(3)
    assert {pick_token(row, temperature=5.0, top_k=1, rng=rng) for _ in range(20)} == {1}
    assert {pick_token(row, temperature=1.0, top_p=0.4, rng=rng) for _ in range(20)} == {1}
    # top_p=0.8 keeps tokens 1 and 2 (0.5 + 0.3); token 0 and 3 never come out
    draws = [pick_token(row, temperature=1.0, top_p=0.8, rng=rng) for _ in range(200)]
    assert set(draws) == {1, 2}
    # the same seed draws the same tokens; sampling follows the softmax (0.5 vs 0.05)
    def run(seed):
        g = np.random.default_rng(seed)
        return [pick_token(row, temperature=1.0, rng=g) for _ in range(400)]
    assert run(7) == run(7) and run(7) != run(8)
    counts = np.bincount(run(7), minlength=4) / 400
    assert abs(counts[1] - 0.5) < 0.08 and counts[0] < 0.12


# ---------------------------------------------------------------- quantize (no model)
def test_quantize_failures_are_one_data_error_and_leave_nothing(runtime, tmp_path):
    import gguf

    empty = tmp_path / "empty.gguf"   # a valid GGUF without tensors: the tool itself exits 0
    w = gguf.GGUFWriter(str(empty), arch="llama")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file")
    out = tmp_path / "out"
    out.mkdir()
    for src, why in [(junk, "failed to quantize: llama_model_loader: failed to load model"),
                     (empty, "wrote 0 of 0 tensors"), (empty, "invalid ftype 'Q9_9'")]:
        qtype = "q9_9" if "Q9_9" in why else "q8_0"
        with pytest.raises(DataError) as e:
            quantize(src, out / "q.gguf", qtype, threads=1)
        msg = str(e.value)
        assert msg.startswith(f"{src}: llama-quantize to {qtype} ") and why in msg and "\n" not in msg
        assert list(out.iterdir()) == []


# ---------------------------------------------------------------- the real checkpoints
@pytest.fixture(scope="module")
def loaded(runtime, imported):
    """`loaded(name)` -> (full model, vocab-only model, HF tokenizer of the same GGUF), cached."""
    from transformers import AutoTokenizer

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            src, hf_dir = imported(name)
            # one thread: ggml's workers spin while they wait, and on a runner shared with
            # other test workers two spinning threads run many times slower than one
            cache[name] = (LlamaCpp(src, n_ctx=256, n_threads=1), LlamaCpp(src, vocab_only=True),
                           AutoTokenizer.from_pretrained(hf_dir))
        return cache[name]

    yield get
    for full, vocab, _ in cache.values():
        full.close()
        vocab.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_tokenization_equals_hf_and_vocab_only(loaded, flores_lines, name):
    full, vocab, hf = loaded(name)
    for line in flores_lines:
        want = hf(line)["input_ids"]
        assert full.tokenize(line) == want, line
        assert vocab.tokenize(line) == want, line
        assert full.tokenize(line, add_special=False) == hf(line, add_special_tokens=False)["input_ids"]
        assert vocab.detokenize(vocab.tokenize(line, add_special=False)) == line
    assert (full.bos_id, full.eos_id, full.n_vocab) == (hf.bos_token_id, hf.eos_token_id, len(hf))
    with pytest.raises(ValueError, match="vocab_only"):
        vocab.logits([1, 2])


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_logits_and_greedy_generation_agree(loaded, flores_lines, name):
    full, _, _ = loaded(name)
    long = full.tokenize(" ".join(flores_lines[:2]))[:40]
    lg = full.logits(long)
    assert lg.shape == (40, full.n_vocab) and lg.dtype == np.float32 and np.isfinite(lg).all()
    # each row is the logits after its own prefix, whatever the pass's length: the cache is
    # cleared first, and passes of 32+ tokens do not take the runtime's faulty path (SAFE_UBATCH)
    for k in (1, 17, 33):
        assert np.allclose(full.logits(long[:k])[-1], lg[k - 1], atol=1e-3), k
    assert np.array_equal(full.logits(long).argmax(-1), lg.argmax(-1))
    ids = long[:12]
    # greedy generation is argmax stepping over `logits`
    res = full.generate(ids, max_new_tokens=8, stop_at_eog=False)
    stepped = list(ids)
    for _ in range(8):
        stepped.append(int(full.logits(stepped)[-1].argmax()))
    assert res.ids == stepped[len(ids):]
    assert res.n_prompt == len(ids) and res.prefill_s > 0 and res.decode_s > 0
    # a seeded sample repeats itself
    a = full.generate(ids, max_new_tokens=6, temperature=0.8, top_k=40, seed=5, stop_at_eog=False)
    b = full.generate(ids, max_new_tokens=6, temperature=0.8, top_k=40, seed=5, stop_at_eog=False)
    assert a.ids == b.ids
