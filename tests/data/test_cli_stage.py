"""CLI `langadapt data clean|bitext` and recipe stages `data.clean` / `data.bitext`."""

from __future__ import annotations

import json

from langadapt.cli import main
from langadapt.stages import StageContext, get_stage


def _input(tmp_path, data_dir):
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:120]
    p = tmp_path / "in.txt"
    p.write_text(
        "\n".join(lines + lines[:10] + ["The cat sat on the mat all day long."]) + "\n", encoding="utf-8"
    )
    return p


def test_cli_clean_json(tmp_path, data_dir, capsys):
    rc = main(
        [
            "data",
            "clean",
            str(_input(tmp_path, data_dir)),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--no-dedup-near",
        ]
    )
    assert rc == 0
    rows = {r["metric"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["docs_read"]["n"] == 131
    assert rows["docs_dropped:language"]["n"] == 1
    assert (
        rows["docs_kept"]["n"] + sum(r["n"] for m, r in rows.items() if m.startswith("docs_dropped")) == 131
    )
    assert rows["docs_kept"]["signature"]["tools"]["datatrove"]


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["data", "clean", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["data", "clean", "x.txt", "--lang", "xx_Yyyy", "--out", str(tmp_path / "o")]) == 2


def test_cli_bitext(data_dir, tmp_path, capsys):
    rc = main(
        ["data", "bitext", str(data_dir / "parallel" / "mn_en.tsv"), "--out", str(tmp_path / "b"), "--json"]
    )
    assert rc == 0
    rows = {r["metric"]: r["n"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["docs_read"] == 440


def test_clean_stage(tmp_path, data_dir):
    cls = get_stage("data.clean")
    opts = cls.Options(
        inputs=[str(_input(tmp_path, data_dir))], decontaminate=["${data}/flores/khk_Cyrl.dev.txt"]
    )
    ctx = StageContext(stage_id="clean", out_dir=tmp_path / "stage", run_dir=tmp_path)
    rows = cls().run(opts, ctx)
    by = {r.metric: r.n for r in rows}
    assert by["docs_read"] == 131 and by["docs_kept"] + sum(v for k, v in by.items() if ":" in k) == 131
    assert (tmp_path / "stage" / "stats.json").exists()
    assert rows[0].signature["data_hash"]


def test_bitext_stage_registered():
    assert get_stage("data.bitext").Options.model_fields["src"].default == "khk_Cyrl"


def test_cli_binary_input_exits_2(tmp_path, capsys):
    f = tmp_path / "photo.txt"
    f.write_bytes(bytes(range(256)) * 200)
    assert main(["data", "clean", str(f), "--out", str(tmp_path / "o"), "--no-dedup-near"]) == 2
    assert "not a text file" in capsys.readouterr().err
    g = tmp_path / "garbage.txt"
    g.write_bytes(b"\x80\x81\x82\x83 \x84\x85\x86\n" * 50)
    assert main(["data", "clean", str(g), "--out", str(tmp_path / "o"), "--no-dedup-near"]) == 2
    assert "nothing decodable: all 50 documents" in capsys.readouterr().err
    assert not (tmp_path / "o" / "work").exists()
