"""A hub id in a cache key stands for the commit it resolves to, not for its name."""

from __future__ import annotations

import huggingface_hub.constants

from langadapt.runs import content_id, hub_commit


def test_hub_ids_are_keyed_by_their_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    refs = tmp_path / "models--Org--model-1.5B" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40, encoding="utf-8")
    (refs / "v2").write_text("b" * 40, encoding="utf-8")
    assert content_id("Org/model-1.5B") == f"hub:Org/model-1.5B@{'a' * 40}"
    assert content_id("Org/model-1.5B", revision="v2") == f"hub:Org/model-1.5B@{'b' * 40}"
    (refs / "main").write_text("c" * 40, encoding="utf-8")       # a new upload, the same name
    assert content_id("Org/model-1.5B") == f"hub:Org/model-1.5B@{'c' * 40}"
    assert content_id("Org/other") == "hub:Org/other@main"       # not downloaded: the revision's name
    assert hub_commit("Org/other", "d" * 40) == "d" * 40          # a commit is itself
    assert content_id("not a hub id") == "not a hub id"
