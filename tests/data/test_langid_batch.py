"""The batched py3langid classifier agrees with py3langid text by text."""

from __future__ import annotations

from pathlib import Path

import pytest

from langadapt.data import py3langid_batch
from langadapt.data.langid import get_backend, predict_many

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def ident():
    from py3langid.langid import _load_identifier

    return _load_identifier(norm_probs=True)


def _texts(data_dir: Path) -> list[str]:
    mono = data_dir / "mono"
    texts = []
    for name in sorted(p.name for p in mono.glob("*.txt")):
        lines = [x for x in (mono / name).read_text(encoding="utf-8").splitlines() if x.strip()]
        texts += lines[:300]
    texts += [x.split("\t", 1)[1] for x in (FIXTURES / "foreign.tsv").read_text().splitlines()]
    texts += ["", " ", "12345", "МОНГОЛ УЛСЫН ЕРӨНХИЙЛӨГЧ", "Hello world", "Сайн байна уу?\nДараа уулзъя."]
    texts.append(" ".join(texts[:400]))  # one long document: goes through py3langid's own loop
    return texts


def test_batch_equals_py3langid(ident, data_dir):
    texts = _texts(data_dir)
    got = py3langid_batch.BatchClassifier(ident).classify_many(texts)
    assert len(got) == len(texts)
    for text, (label, prob) in zip(texts, got):
        ref_label, ref_prob = ident.classify(text)
        assert label == ref_label, text
        assert prob == pytest.approx(float(ref_prob), abs=1e-4), text


def test_small_groups_fall_back(ident, monkeypatch):
    calls = []
    original = type(ident).classify
    monkeypatch.setattr(type(ident), "classify", lambda self, t: calls.append(t) or original(self, t))
    texts = ["Монгол улсын нийслэл Улаанбаатар хот.", "Москва — столица России."]
    got = py3langid_batch.BatchClassifier(ident).classify_many(texts)
    assert [g[0] for g in got] == ["mn", "ru"] and calls == texts  # 2 < LOCKSTEP_MIN: per text

    calls.clear()
    many = texts * py3langid_batch.LOCKSTEP_MIN
    assert [g[0] for g in py3langid_batch.BatchClassifier(ident).classify_many(many)] == ["mn", "ru"] * (
        len(many) // 2
    )
    assert calls == []  # lockstep path


def test_requires_normalised_probabilities():
    from py3langid.langid import _load_identifier

    with pytest.raises(ValueError, match="norm_probs"):
        py3langid_batch.BatchClassifier(_load_identifier(norm_probs=False))


def test_predict_many_uses_the_backend_batch_path():
    predict = get_backend("py3langid")
    assert callable(getattr(predict, "many", None))
    texts = ["Монгол улсын нийслэл Улаанбаатар хот.", "Москва — столица России."]
    got, ref = predict_many("py3langid", texts), [predict(t) for t in texts]
    assert [g[0] for g in got] == [r[0] for r in ref] == ["mn", "ru"]
    assert [g[1] for g in got] == pytest.approx([r[1] for r in ref], abs=1e-4)
