"""Batched generation: same greedy output in any batch, forced target code, prompts, stops."""

from __future__ import annotations

import pytest

from langadapt.generate import (
    GenerationOptions,
    build_prompt,
    decode,
    encode_inputs,
    generate_batch,
    length_sorted_batches,
    translate_texts,
)
from langadapt.models.loading import Loaded, load_model
from langadapt.models.seq2seq import lang_token_id


@pytest.fixture(scope="module")
def sentences(data_dir):
    lines = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    return lines[:6]


@pytest.fixture(scope="module")
def m2m(tiny_model):
    return load_model(tiny_model("m2m100"), device="cpu")


@pytest.fixture(scope="module")
def qwen(tiny_model):
    return load_model(tiny_model("qwen3"), device="cpu")


@pytest.mark.parametrize("arch,prompt", [("m2m100", "auto"), ("qwen3", "chat"), ("qwen3", "fewshot")])
def test_batched_equals_one_by_one(arch, prompt, m2m, qwen, sentences):
    loaded = m2m if arch == "m2m100" else qwen
    one = translate_texts(loaded, sentences, "khk_Cyrl", "eng_Latn",
                          GenerationOptions(batch_size=1, max_new_tokens=8, prompt=prompt))
    many = translate_texts(loaded, sentences, "khk_Cyrl", "eng_Latn",
                           GenerationOptions(batch_size=4, max_new_tokens=8, prompt=prompt))
    assert many == one
    assert len(one) == len(sentences)


def test_path_and_loaded_give_the_same_output(tiny_model, m2m, sentences):
    opts = GenerationOptions(batch_size=5, max_new_tokens=6)
    assert translate_texts(tiny_model("m2m100"), sentences[:3], "khk_Cyrl", "eng_Latn", opts) == \
        translate_texts(m2m, sentences[:3], "khk_Cyrl", "eng_Latn", opts)


@pytest.mark.parametrize("src,tgt", [("khk_Cyrl", "eng_Latn"), ("eng_Latn", "khk_Cyrl")])
def test_seq2seq_source_code_and_forced_target_code(m2m, src, tgt):
    opts = GenerationOptions(max_new_tokens=5)
    enc = encode_inputs(m2m, ["Сайн байна уу"], src, tgt, opts)
    assert enc[0][0] == lang_token_id(m2m.tokenizer, src)
    assert enc[0][-1] == m2m.tokenizer.eos_token_id
    new = generate_batch(m2m, enc, tgt, opts)[0]
    start = m2m.model.generation_config.decoder_start_token_id
    assert new[:2] == [start, lang_token_id(m2m.tokenizer, tgt)]


def test_causal_batches_are_left_padded(qwen):
    opts = GenerationOptions(max_new_tokens=3, prompt="fewshot")
    enc = encode_inputs(qwen, ["a", "a much longer sentence than the first one"], "eng_Latn",
                        "khk_Cyrl", opts)
    new = generate_batch(qwen, enc, "khk_Cyrl", opts)
    # Only new tokens come back, never the prompt or its padding.
    assert all(0 < len(n) <= 3 for n in new)


def test_fewshot_prompt_layout(qwen):
    text = build_prompt(qwen.tokenizer, "Сайн уу", "khk_Cyrl", "eng_Latn", "fewshot",
                        [("Баярлалаа", "Thank you")])
    assert text == ("Translate the following text from Mongolian to English.\n\n"
                    "Mongolian: Баярлалаа\nEnglish: Thank you\n\n"
                    "Mongolian: Сайн уу\nEnglish:")


def test_chat_prompt_uses_the_template(qwen):
    text = build_prompt(qwen.tokenizer, "Сайн уу", "khk_Cyrl", "eng_Latn", "auto")
    assert text.startswith("<|im_start|>user\n") and "Сайн уу" in text
    # Qwen3's template with thinking switched off: an empty thinking block, then the answer.
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


@pytest.mark.parametrize("generated,prompt,expected", [
    (" Hello world\nMongolian: next", "fewshot", "Hello world"),
    ("Hello world<|im_end|>", "chat", "Hello world"),
    ("<think>\n\n</think>\n\nHello", "chat", "Hello"),
    ("  spaced  ", "chat", "spaced"),
])
def test_decode_stops_and_cleans(qwen, generated, prompt, expected):
    ids = qwen.tokenizer(generated, add_special_tokens=False)["input_ids"]
    assert decode(qwen, ids, GenerationOptions(prompt=prompt)) == expected


@pytest.mark.parametrize("lengths,size,expected", [
    ([3, 9, 1, 9, 4], 2, [[1, 3], [4, 0], [2]]),
    ([5], 4, [[0]]),
    ([], 3, []),
])
def test_length_sorted_batches(lengths, size, expected):
    assert length_sorted_batches(lengths, size) == expected


def test_sampling_is_seeded(m2m, sentences):
    def run(seed):
        return translate_texts(m2m, sentences[:3], "khk_Cyrl", "eng_Latn",
                               GenerationOptions(do_sample=True, seed=seed, max_new_tokens=6))
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_beam_search_runs(m2m, sentences):
    out = translate_texts(m2m, sentences[:2], "khk_Cyrl", "eng_Latn",
                          GenerationOptions(num_beams=2, max_new_tokens=4))
    assert len(out) == 2 and isinstance(m2m, Loaded)
