"""The train stage takes its seed from the run (a recipe's `seeds`): another seed, other weights."""

from __future__ import annotations

from safetensors.numpy import load_file

from langadapt.stages import StageContext, get_stage


def test_a_seed_changes_the_weights_and_a_repeated_seed_does_not(small_model, data_dir, tmp_path):
    stage = get_stage("train")
    opts = stage.Options.model_validate(dict(
        model=str(small_model("qwen3")), method="lora", lora={"r": 2}, max_steps=1, seq_len=16,
        batch_size=2, data={"train": [str(data_dir / "mono" / "news_ner_v1.txt")], "limit": 30}))

    def weights(name, seed):
        out = tmp_path / name
        stage().run(opts, StageContext(stage_id="cpt", out_dir=out, run_dir=tmp_path, seed=seed))
        return load_file(out / "adapter_model.safetensors")

    a, again, other = weights("a", 1), weights("again", 1), weights("other", 2)
    assert a.keys() == other.keys() and a
    assert all((a[k] == again[k]).all() for k in a)
    assert any((a[k] != other[k]).any() for k in a)
