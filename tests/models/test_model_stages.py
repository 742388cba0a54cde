import json

from langadapt.stages import StageContext, get_stage


def _run(kind, options, tmp_path, name, variant=None):
    stage = get_stage(kind)
    ctx = StageContext(stage_id=name, out_dir=tmp_path / name, run_dir=tmp_path, seed=0, variant=variant)
    return stage().run(stage.Options.model_validate(options), ctx), ctx.out_dir


def test_tiny_then_resize_with_focus_from_the_target_corpus(tmp_path, surgery_toks, tokenizers_dir,
                                                            data_dir):
    _, base = _run("model.tiny", {"arch": "qwen3", "tokenizer": str(tokenizers_dir / "qwen3"),
                                  "hidden": 32, "intermediate": 64, "layers": 1}, tmp_path, "tiny")
    assert (base / "config.json").is_file()
    rows, out = _run("model.resize", {
        "base": str(base), "tokenizer": str(surgery_toks("extended")), "init": "focus",
        "corpus": [str(data_dir / "mono" / "news_ner_v1.txt")],
        "init_options": {"max_docs": 3000, "dim": 32, "min_count": 2}}, tmp_path, "resize", variant="focus")
    assert {r.variant for r in rows} == {"focus"}
    report = json.loads((out / "resize.json").read_text())
    assert report["check"]["passed"] and report["init"] == "focus"
    facts = report["facts"]
    # most of the fixture's new tokens (common news words) get a corpus vector
    assert facts["new_with_vector"] >= facts["new_fvt_fallback"] and facts["aux_tokens"] > 100


def test_stage_kinds_are_registered():
    for kind in ("model.tiny", "model.resize", "model.merge"):
        assert get_stage(kind).kind == kind
