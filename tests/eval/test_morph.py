"""Morphology score: the UniMorph suffix analyser and lemma / suffix F1 on real sentences."""

from __future__ import annotations

import pytest

from langadapt.errors import DataError
from langadapt.eval.morph import SuffixAnalyser, morph_scores, sentence_stats


@pytest.fixture(scope="module")
def analyser(data_dir):
    return SuffixAnalyser.from_unimorph([data_dir / "morph" / "khk.tsv"])


@pytest.fixture(scope="module")
def refs(data_dir):
    return (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:40]


@pytest.mark.parametrize("word, lemma, suffix", [
    ("нэрийн", "нэр", "ийн"),          # in the table: genitive
    ("нэрийг", "нэр", "ийг"),          # in the table: accusative
    ("нэр", "нэр", ""),                # a lemma is its own lemma
    ("хэлмэгджээ", "хэлмэгдэх", "жээ"),  # verb, past: the lemma gets its -эх back
    ("монголын", "монгол", "ын"),      # not in the table: the most frequent genitive rule
    ("xyz", "xyz", ""),                # no rule applies
])
def test_analyser_table(analyser, word, lemma, suffix):
    assert analyser.analyse(word) == (lemma, suffix)


def test_analyser_from_small_table(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("ном\tномын\tN;GEN;SG\nхот\tхотын\tN;GEN;SG\nхот\tхотод\tN;DAT;SG\n", encoding="utf-8")
    a = SuffixAnalyser.from_unimorph([path])
    assert a.rules["ын"] == ("", 2) and a.analyse("нутгийн") == ("нутгийн", "")
    assert a.analyse("малын") == ("мал", "ын")  # 2 examples of -ын: a rule
    assert a.analyse("усод") == ("усод", "")     # 1 example of -од: below min_count
    with pytest.raises(DataError, match="not found"):
        SuffixAnalyser.from_unimorph([tmp_path / "missing.tsv"])


@pytest.mark.parametrize("hyp, ref, stats", [
    # suffix 3-grams: `#ийн#` -> #ий ийн йн#; bare stems (ном) have none
    ("нэрийн ном", "нэрийн ном", [2, 2, 2, 3, 3, 3]),
    ("нэрийг ном", "нэрийн ном", [2, 2, 2, 1, 3, 3]),   # right words, wrong case: only `#ий` shared
    ("номын", "нэрийн", [0, 1, 1, 0, 2, 3]),           # wrong word; `#ын#` shares no 3-gram with `#ийн#`
    ("", "нэр", [0, 0, 1, 0, 0, 0]),
])
def test_sentence_stats_table(analyser, hyp, ref, stats):
    assert sentence_stats(analyser, hyp, ref)[:6] == stats


def test_scores_separate_words_from_inflections(analyser, refs):
    same = morph_scores(refs, refs, analyser, resamples=100)
    assert [r.value for r in same] == [1.0, 1.0]
    shuffled = morph_scores(refs[1:] + refs[:1], refs, analyser, resamples=100)
    assert shuffled[0].value < 0.3 and shuffled[0].ci[0] <= shuffled[0].value <= shuffled[0].ci[1]
    # Re-inflect every table form with another case of its lemma: lemmas agree, suffixes do not.
    by_lemma: dict[str, list[str]] = {}
    for form, (lemma, _) in analyser.forms.items():
        by_lemma.setdefault(lemma, []).append(form)

    def reinflect(sentence: str) -> str:
        out = []
        for w in sentence.lower().split():
            lemma, suffix = analyser.analyse(w)
            alts = [f for f in sorted(by_lemma.get(lemma, [])) if analyser.forms[f][1] != suffix]
            out.append(alts[0] if suffix and alts and analyser.known(w) else w)
        return " ".join(out)

    hyps = [reinflect(s) for s in refs]
    lemma_f1, suffix_f1 = (r.value for r in morph_scores(hyps, refs, analyser, resamples=0))
    assert lemma_f1 > 0.9 and suffix_f1 < lemma_f1 - 0.05
    assert morph_scores(hyps, refs, analyser, resamples=0)[0].extra["ref_word_coverage"] > 0.1


def test_misaligned_inputs_are_an_error(analyser):
    with pytest.raises(DataError, match="line-aligned"):
        morph_scores(["a"], ["a", "b"], analyser)


def test_stage_scores_files(data_dir, tmp_path):
    from langadapt.stages import StageContext, get_stage

    ref = data_dir / "flores" / "khk_Cyrl.dev.txt"
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(ref.read_text(encoding="utf-8").splitlines()[::-1]) + "\n", encoding="utf-8")
    cls = get_stage("eval.morph")
    rows = cls().run(cls.Options(hyp=str(hyp), ref=str(ref), resamples=20),
                     StageContext("morph", tmp_path, tmp_path, variant="mt"))
    assert [r.metric for r in rows] == ["morph_lemma_f1", "morph_suffix3_f1"]
    assert rows[0].n == 506 and rows[0].variant == "mt" and 0 < rows[0].value < 0.5


def test_cli_rows_and_missing_file(data_dir, tmp_path, capsys):
    import json

    from langadapt.cli import main

    ref = data_dir / "flores" / "khk_Cyrl.dev.txt"
    assert main(["eval", "morph", "--hyp", str(ref), "--ref", str(ref), "--json", "--resamples", "10"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["metric"], r["value"], r["n"]) for r in rows] == [("morph_lemma_f1", 1.0, 506),
                                                                 ("morph_suffix3_f1", 1.0, 506)]
    assert main(["eval", "morph", "--hyp", str(tmp_path / "none.txt"), "--ref", str(ref)]) == 2
    assert "none.txt" in capsys.readouterr().err
