"""`langadapt eval layers` (logit lens), the `eval.lens` stage, and the layer plots."""

from __future__ import annotations

import json

import pytest

from langadapt.cli import main
from langadapt.report.plots_layers import plot_ablation, plot_lens, plot_lens_heatmap
from langadapt.runs import ResultRow
from langadapt.stages import StageContext, get_stage

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_json_and_files(tiny_model, data_dir, tmp_path, capsys):
    text = data_dir / "flores" / "khk_Cyrl.dev.txt"
    args = ["eval", "layers", "--model", str(tiny_model("qwen3")), "--text", str(text), "--limit", "2",
            "--max-length", "16", "--top-k", "2", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["metric"] for r in rows} == {"lens_kl_to_final", "lens_cos_to_final", "lens_top1_to_final"}
    assert sorted({r["extra"]["layer"] for r in rows}) == [-1, 0, 1]
    assert all(r["n"] == 32 for r in rows)  # 2 lines × 16 tokens
    assert all(r["signature"]["options"]["kl"] == "KL(final||layer)" for r in rows)
    for name in ("lens.png", "lens_heatmap.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    detail = json.loads((tmp_path / "lens_detail.json").read_text())
    assert len(detail["top1"]) == 3
    assert (tmp_path / "lens.md").read_text().splitlines()[2].startswith("| emb |")


def test_cli_human_table_and_errors(tiny_model, data_dir, capsys):
    model = str(tiny_model("qwen3"))
    text = str(data_dir / "flores" / "khk_Cyrl.dev.txt")
    assert main(["eval", "layers", "--model", model, "--text", text, "--limit", "1",
                 "--max-length", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| layer | kl_to_final | cos_to_final | top1_to_final |")
    assert main(["eval", "layers", "--model", model, "--text", text, "--limit", "1", "--max-length", "8",
                 "--new-tokens", "100"]) == 0
    assert capsys.readouterr().out.startswith("| layer | kl_to_final | cos_to_final | top1_to_final | "
                                              "new_token_mass |")
    assert main(["eval", "layers", "--model", model]) == 2
    assert "needs --text" in capsys.readouterr().err
    assert main(["eval", "layers", "--model", model, "--text", text, "--base", "adapter-off"]) == 2
    assert "needs a PEFT adapter" in capsys.readouterr().err


def test_stage_seq2seq(tiny_model, data_dir, tmp_path):
    stage = get_stage("eval.lens")
    opts = stage.Options(model=str(tiny_model("m2m100")), text=str(data_dir / "flores" / "khk_Cyrl.dev.txt"),
                         targets=str(data_dir / "flores" / "eng_Latn.dev.txt"), src_lang="khk_Cyrl",
                         tgt_lang="eng_Latn", limit=2, max_length=12)
    rows = stage().run(opts, StageContext(stage_id="lens", out_dir=tmp_path, run_dir=tmp_path,
                                          variant="nllb"))
    assert {r.variant for r in rows} == {"nllb"}
    assert rows[0].n == 24  # two targets cut to 12 tokens
    assert (tmp_path / "lens.png").read_bytes()[:8] == PNG


def _row(metric, layer, value, variant=None, ci=None, **extra):
    return ResultRow(metric=metric, value=value, variant=variant, ci=ci, model="m",
                     extra={"layer": layer, **extra})


def test_plots(tmp_path):
    rows = [_row(m, layer, v) for layer in (-1, 0, 1)
            for m, v in (("lens_kl_to_final", 1.0 - layer), ("lens_cos_to_final", 0.5),
                         ("lens_base_cos", 0.9))]
    assert plot_lens(rows, tmp_path / "a.png").read_bytes()[:8] == PNG
    detail = {"layers": [-1, 0], "top1": [[["а", 0.1], ["б", 0.2]], [["世", 0.3], ["\n", 0.4]]]}
    assert plot_lens_heatmap(detail, tmp_path / "b.png").read_bytes()[:8] == PNG
    abl = [ResultRow(metric="bleu", value=v, ci=[v - 1, v + 1], variant=f"lora-off:{s}",
                     extra={"ablate": s, "disabled_layers": {}}) for s, v in (("none", 3.0), ("early", 2.0))]
    assert plot_ablation(abl, tmp_path / "c.png").read_bytes()[:8] == PNG
    two = abl + [r.model_copy(update={"variant": "full+" + r.variant}) for r in abl]
    assert plot_ablation(two, tmp_path / "d.png").read_bytes()[:8] == PNG
    for fn, arg in ((plot_lens, []), (plot_ablation, rows), (plot_lens_heatmap, {})):
        with pytest.raises(ValueError):
            fn(arg, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
