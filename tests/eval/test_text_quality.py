from __future__ import annotations

import math

import pytest

from langadapt.eval.text_quality import (
    LanguageShare,
    QualityThresholds,
    TextScores,
    judge_bpb,
    longest_repeat,
    pieces,
    repeated_ngram_share,
    score_texts,
    verdict,
)
from langadapt.languages import load_profile

LOOP = " байна. байна. байна. байна. байна. байна. байна. байна. байна. байна."
ENGLISH = " The government met today in the capital to discuss the new budget for schools."
# SmolLM2's greedy llama.cpp continuation of a FLORES prompt: long "words" loop, no 3-gram repeats
TAIL_LOOP = "ээчдийн эмчилжээчдийн эмчилжээчдийн эмчилжээчдийн эм"
RUSSIAN = " Правительство Монголии провело сегодня заседание, посвящённое новому бюджету школ."


@pytest.fixture(scope="module")
def flores_mn(data_dir) -> str:
    """A real FLORES sentence (dev line 2), continued after a space as a model would write it."""
    lines = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    return " " + lines[1]


@pytest.fixture(scope="module")
def profile():
    return load_profile("khk_Cyrl")


def test_hand_made_verdicts(profile, flores_mn):
    texts = [LOOP, ENGLISH, RUSSIAN, flores_mn, " ёёёёёёёёёёёёёёёёёёёёёёёёёёёёёё", TAIL_LOOP]
    got = score_texts(texts, profile, QualityThresholds())
    assert [s.reasons for s in got] == [["repetition", "repeated_span"], ["language"], ["language"], [],
                                        ["language", "repeated_span"], ["repeated_span"]]
    assert [s.passed for s in got] == [False, False, False, True, False, False]
    loop, english, russian, good, yo, tail = got
    assert tail.repeated_trigrams == 0.0 and tail.lang_share == 1.0  # only the span test sees this loop
    assert loop.lang_share == 1.0 and loop.repeated_trigrams > 0.8
    assert english.lang_share == russian.lang_share == 0.0  # Cyrillic Russian is not Mongolian
    assert good.lang_share == 1.0 and good.repeated_trigrams == 0.0
    assert yo.longest_repeat == 29  # one letter thirty times: two overlapping copies of 29


def test_language_share_counts_bytes_of_each_language(profile, flores_mn):
    mixed = flores_mn + ENGLISH
    (share,) = LanguageShare(profile).many([mixed])
    assert share == pytest.approx(len(flores_mn.strip().encode()) / (len(flores_mn.strip().encode())
                                                                     + len(ENGLISH.strip().encode())))
    assert LanguageShare(profile).many(["", " 2024 … 15"]) == [0.0, 0.0]


def test_buryat_letters_fail_as_the_cleaning_fails_them(profile):
    # language ID calls it Mongolian; the profile's foreign-letter limit (Buryat һ) does not
    text = "Монгол улсын засгийн газар өнөөдөр хуралдаж, һайн һайхан шийдвэр гаргалаа."
    assert LanguageShare(profile).many([text]) == [0.0]
    assert LanguageShare(profile).many([text.replace("һ", "с")]) == [1.0]


@pytest.mark.parametrize("text, share", [
    ("a b c a b c", 1 - 3 / 4),            # trigrams abc bca cab abc: one repeats
    ("one two three four five", 0.0),
    ("One, two; ONE two one two", 1 - 2 / 4),  # case and punctuation do not make words differ
    ("a b", 0.0),
])
def test_repeated_trigram_share(text, share):
    assert repeated_ngram_share(text) == pytest.approx(share)


@pytest.mark.parametrize("text, length", [
    ("abcdef", 0), ("abcXabc", 3), ("xyzxyzxyz", 6), ("", 0), ("aa", 1),
    ("Тэр гэртээ харив. Тэр гэртээ харив.", len("Тэр гэртээ харив.")),
])
def test_longest_repeat(text, length):
    assert longest_repeat(text) == length


def test_short_sentences_are_joined_before_language_id():
    assert pieces("Тийм. Үгүй. Магадгүй тэр маргааш ирнэ.") == ["Тийм. Үгүй. Магадгүй тэр маргааш ирнэ."]
    long_a, long_b = "А" * 30 + ".", "Б" * 30 + "."
    assert pieces(f"{long_a} {long_b} В.") == [long_a, f"{long_b} В."]


def test_thresholds_none_switch_tests_off():
    bad = TextScores(lang_share=0.1, repeated_trigrams=0.9, longest_repeat=50, judge_bpb=9.0)
    off = dict(min_lang_share=None, max_repeated_trigrams=None, max_repeat_share=None)
    assert verdict(bad, QualityThresholds(**off)).passed
    assert verdict(bad, QualityThresholds(**off, max_judge_bpb=8.0)).reasons == ["judge_bpb"]
    bad.chars = 60  # longest repeat 50 of 60 characters
    assert verdict(bad, QualityThresholds(**{**off, "max_repeat_share": 0.8})).reasons == ["repeated_span"]
    assert verdict(bad, QualityThresholds(**{**off, "max_repeat_share": 0.9})).passed
    no_judge = TextScores(lang_share=1.0, repeated_trigrams=0.0, longest_repeat=0)
    assert verdict(no_judge, QualityThresholds(max_judge_bpb=0.1)).passed


def test_judge_bpb_scores_the_continuation_after_the_prompt(tiny_model):
    import torch

    from langadapt.eval.loglik import prefix_token_id
    from langadapt.models.loading import load_model

    judge = load_model(str(tiny_model("llama")), device="cpu")
    tok = judge.tokenizer
    prompt, text = "Монгол улсын", " засгийн газар"
    (got, empty) = judge_bpb(judge, [prompt, prompt], [text, ""])
    ctx = [prefix_token_id(tok)] + tok(prompt, add_special_tokens=False)["input_ids"]
    tgt = tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(judge.model(torch.tensor([ctx + tgt])).logits[0].float(), -1)
    nll = -sum(logp[len(ctx) - 1 + i, t].item() for i, t in enumerate(tgt))
    assert got == pytest.approx(nll / (len(text.encode()) * math.log(2)), rel=1e-5)
    assert empty is None
