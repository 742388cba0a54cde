"""The continued-BPE learner on toy vocabularies: merges, counts, order, reachability."""

from __future__ import annotations

import pytest

from langadapt.tokenizer.continued_bpe import ContinuedBPE, count_words


def _learner(accept=lambda t: True, mergeable=lambda t: True, vocab="abcd"):
    # A toy base: every character is a token and there are no base merges.
    ids = {c: i for i, c in enumerate(vocab)}
    return ContinuedBPE(lambda w: [ids[c] for c in w], {i: c for c, i in ids.items()}, 100, accept,
                        mergeable)


@pytest.mark.parametrize("counts, n, expected", [
    ({"ab": 5, "abc": 2}, 2, [("a", "b", "ab", 7), ("ab", "c", "abc", 2)]),
    ({"aaaa": 1}, 2, [("a", "a", "aa", 3), ("aa", "aa", "aaaa", 1)]),
    ({"abab": 3, "cd": 4}, 3, [("a", "b", "ab", 6), ("c", "d", "cd", 4), ("ab", "ab", "abab", 3)]),
    ({"ab": 1}, 5, []),  # below min_count=2
])
def test_learned_merges(counts, n, expected):
    merges = _learner().learn(counts, n, min_count=1 if expected and expected[-1][3] == 1 else 2,
                              progress=False)
    assert [(m.left, m.right, m.token, m.count) for m in merges] == expected
    assert [m.id for m in merges] == list(range(100, 100 + len(merges)))


def test_rejected_pairs_are_skipped():
    learner = _learner(accept=lambda t: t != "ab")
    merges = learner.learn({"ab": 5, "cd": 3}, 2, progress=False)
    assert [m.token for m in merges] == ["cd"]
    assert learner.skipped == 1


def test_unmergeable_tokens_never_merge():
    merges = _learner(mergeable=lambda t: t != "a").learn({"ab": 5, "bc": 3}, 3, progress=False)
    assert [m.token for m in merges] == ["bc"]


def test_encoding_applies_new_merges_by_rank():
    learner = _learner()
    learner.learn({"abc": 5, "bc": 9}, 2, progress=False)
    # "bc" was learned first, so "abc" is a + bc, then (a, bc) if it was learned.
    assert [learner.tokens[i] for i in learner.encode_word("abc")] == ["abc"]
    assert [learner.tokens[i] for i in learner.encode_word("bcbc")] == ["bc", "bc"]


def test_count_words_uses_the_splitter():
    assert count_words(["a b a", "b"], str.split) == {"a": 2, "b": 2}
