"""The one resumable engine (langadapt.resume): records checked both ways, the run key, restart."""

from __future__ import annotations

import json

import pytest

from langadapt.errors import ConfigError
from langadapt.resume import Journal, journal_path, read_records
from langadapt.translate import Translation


def _journal(tmp_path, **kw):
    return Journal(journal_path(tmp_path / "out.txt"), Translation, **kw)


def test_records_survive_a_kill_and_a_cut_or_bad_line_is_done_again(tmp_path):
    j = _journal(tmp_path, run_key="k1")
    j.add(Translation("a", "A"))
    j.add(Translation("b", "B"))
    j.close()  # no finish(): as a killed run leaves it
    path = journal_path(tmp_path / "out.txt")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": "c", "text": 3}) + "\n")  # wrong type: not done
        f.write('{"key": "d", "te')                           # cut by a kill
    again = _journal(tmp_path, run_key="k1")
    assert set(again.done) == {"a", "b"} and again.done["b"] == {"key": "b", "text": "B"}
    assert path.read_bytes().endswith(b"\n")  # the cut line is gone before anything is appended
    again.add(Translation("d", "D"))
    again.close()
    assert read_records(path, Translation)[:2] == ("k1", True)
    assert set(read_records(path, Translation)[2]) == {"a", "b", "d"}


def test_only_checked_records_are_written(tmp_path):
    j = _journal(tmp_path)
    with pytest.raises(TypeError):
        j.add({"key": "a", "text": "A"})
    with pytest.raises(ValueError):
        Translation("a", 3)
    assert not journal_path(tmp_path / "out.txt").exists()


def test_another_run_key_is_refused_until_restart(tmp_path):
    j = _journal(tmp_path, run_key="k1")
    j.add(Translation("a", "A"))
    j.close()
    with pytest.raises(ConfigError, match=r"\.out\.txt\.journal: .*another model.*--restart"):
        _journal(tmp_path, run_key="k2")
    assert _journal(tmp_path, run_key="k2", restart=True).done == {}
    assert not journal_path(tmp_path / "out.txt").parent.exists()


def test_finish_removes_the_journal_and_no_path_stores_nothing(tmp_path):
    j = _journal(tmp_path, run_key="k1")
    j.add(Translation("a", "A"))
    j.finish()
    assert list(tmp_path.iterdir()) == []
    none = Journal(None, Translation)
    none.add(Translation("a", "A"))
    none.finish()
    assert list(tmp_path.iterdir()) == []
