"""Language profiles: bundled ones load, mistakes are located errors."""

from __future__ import annotations

import pytest

from langadapt.errors import ConfigError
from langadapt.languages import available_profiles, load_profile


@pytest.mark.parametrize(
    ("code", "flores", "letter"), [("khk_Cyrl", "khk_Cyrl", "ө"), ("eng_Latn", "eng_Latn", "w")]
)
def test_bundled_profiles(code, flores, letter):
    p = load_profile(code)
    assert p.code == code and p.benchmarks.flores == flores and letter in p.alphabet
    assert code in available_profiles()


def test_khk_thresholds_come_from_fineweb2():
    q = load_profile("khk_Cyrl").quality
    assert (q.dup_line_frac, q.line_punct_thr, q.max_non_alpha_words_ratio) == (0.353, 0.133, 0.781)
    assert len(load_profile("khk_Cyrl").stopwords) == 20


def test_unknown_profile():
    with pytest.raises(ConfigError, match="no language profile 'xxx_Yyyy'"):
        load_profile("xxx_Yyyy")


def test_user_profile_errors_are_located(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("code: x\nname: X\nscripts: [Latn]\nalphabet: ab\nquality:\n  min_doc_wordz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:6: key 'quality.min_doc_wordz'"):
        load_profile(str(p))
